// CI seeds 391..520 of the deterministic simulator (see seedRange.ts): every one must pass.
// Replay a failing one with `npm run sim -- --seed S --trace`.

import { describe } from 'node:test';
import { testSeeds } from './seedRange.js';

describe('simulator seeds 391..520', () => testSeeds(391, 520));

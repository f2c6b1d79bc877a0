// CI seeds 1..130 of the deterministic simulator (see seedRange.ts): every one must pass.
// Replay a failing one with `npm run sim -- --seed S --trace`.

import { describe } from 'node:test';
import { testSeeds } from './seedRange.js';

describe('simulator seeds 1..130', () => testSeeds(1, 130));

// CI seeds 261..390 of the deterministic simulator (see seedRange.ts): every one must pass.
// Replay a failing one with `npm run sim -- --seed S --trace`.

import { describe } from 'node:test';
import { testSeeds } from './seedRange.js';

describe('simulator seeds 261..390', () => testSeeds(261, 390));

// Placeholder: filled in by its own issue.
import type { Command } from 'commander';

export function registerBenchCommands(_program: Command): void {}

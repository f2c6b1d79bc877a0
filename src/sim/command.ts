// Placeholder: filled in by its own issue.
import type { Command } from 'commander';

export function registerSimCommands(_program: Command): void {}

// Placeholder: filled in by its own issue.
import type { Command } from 'commander';

export function registerShellCommands(_program: Command): void {}

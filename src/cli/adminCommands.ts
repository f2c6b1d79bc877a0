// Placeholder: filled in by its own issue.
import type { Command } from 'commander';

export function registerAdminCommands(_program: Command): void {}

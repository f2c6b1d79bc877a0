// What one Redis-protocol connection remembers between commands: the protocol it negotiated with
// HELLO, whether it authenticated, its name and library (CLIENT SETNAME / SETINFO), and the
// consistency level chosen with QUORUMKV CONSISTENCY. Only commands that run at once, in request
// order, change it (HELLO, AUTH, CLIENT, SELECT, QUORUMKV), so a pipelined command always sees the
// state that the commands before it left.

import type { ConsistencyLevel } from '../../core/quorum.js';
import type { Protocol } from './replies.js';

export class Session {
  protocol: Protocol = 2;
  authenticated: boolean;
  /** CLIENT SETNAME / HELLO SETNAME; '' when unnamed. */
  name = '';
  libraryName = '';
  libraryVersion = '';
  /** QUORUMKV CONSISTENCY; undefined means the node's default level. */
  consistency: ConsistencyLevel | undefined = undefined;
  /** Name of the last command received (CLIENT INFO's cmd=). */
  lastCommand = 'NULL';
  lastCommandAtMs: number;
  commandsReceived = 0;

  constructor(
    readonly id: number,
    readonly remoteAddress: string,
    readonly localAddress: string,
    readonly connectedAtMs: number,
    authRequired: boolean,
  ) {
    this.authenticated = !authRequired;
    this.lastCommandAtMs = connectedAtMs;
  }

  /** One line of CLIENT LIST / CLIENT INFO, in Redis's field order for the fields that apply. */
  describe(nowMs: number, bytesQueued: number, commandsWaiting: number): string {
    const age = Math.floor((nowMs - this.connectedAtMs) / 1000);
    const idle = Math.floor((nowMs - this.lastCommandAtMs) / 1000);
    return (
      `id=${this.id} addr=${this.remoteAddress} laddr=${this.localAddress} fd=-1 name=${this.name} ` +
      `age=${age} idle=${idle} flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 ` +
      `argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=${commandsWaiting} omem=${bytesQueued} tot-mem=0 ` +
      `events=r cmd=${this.lastCommand} user=default redir=-1 resp=${this.protocol} ` +
      `lib-name=${this.libraryName} lib-ver=${this.libraryVersion} ` +
      `quorumkv-consistency=${this.consistency ?? 'default'}`
    );
  }
}

/** Client names and library names: printable ASCII without spaces (Redis's rule). */
export function isValidClientName(name: string): boolean {
  return /^[\x21-\x7e]*$/.test(name);
}

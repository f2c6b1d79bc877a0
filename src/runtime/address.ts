// host:port addresses as given on the command line and stored in the layout.

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export function parseHostPort(text: string, defaultHost = '127.0.0.1'): HostPort {
  const trimmed = text.trim();
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(trimmed) ?? /^(\d{1,5})$/.exec(trimmed);
  if (!match) throw new Error(`not a host:port address: "${text}"`);
  const port = Number(match[3] ?? match[1]);
  const host = match[3] !== undefined ? (match[1] ?? match[2] ?? defaultHost) || defaultHost : defaultHost;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`port out of range in "${text}"`);
  return { host, port };
}

export function formatHostPort(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** An address that means "every interface" to bind, and nothing to dial. */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

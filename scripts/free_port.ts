// A TCP port on 127.0.0.1 that is free now, for the rendezvous of local
// data-parallel runs in tests and benchmarks (the OS picks it; a race with
// another process taking it first is possible but rare).
import net from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

import type { Stack } from '../test/helpers/stack.js';

/**
 * Closes a stack after a benchmark. A request still in flight when an HTTP server closes (e.g. the
 * sandbox's notify, whose reply may be sent just after GET already shows PAID) keeps its keep-alive
 * connection open until Fastify's keepAliveTimeout (72 s), so: let in-flight work finish, then
 * close, and cut whatever connection is still open after `graceMs`. Returns whether that was needed.
 */
export async function closeStack(s: Stack, graceMs = 2_000): Promise<{ forced: boolean }> {
  await new Promise((r) => setTimeout(r, 200));
  let forced = false;
  const timer = setTimeout(() => {
    forced = true;
    for (const app of s.apps) app.server.closeAllConnections();
    s.sandbox.server.closeAllConnections();
  }, graceMs);
  try {
    await s.close();
  } finally {
    clearTimeout(timer);
  }
  return { forced };
}

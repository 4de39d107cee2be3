import Fastify, { type FastifyInstance } from 'fastify';

// The baseline: a bare Fastify 5 app on loopback, no logger, no hooks, no plugins. GET returns a small
// JSON object; POST parses the same JSON body the message benchmark sends and returns a small object,
// so the comparison with POST /messages differs only by what Aviary does with the request.

export async function startHelloWorld(): Promise<{ url: string; app: FastifyInstance }> {
  const app = Fastify({ logger: false });
  app.get('/hello', async () => ({ hello: 'world' }));
  app.post('/hello', async (request, reply) => {
    const body = request.body as { receiver?: unknown } | undefined;
    return reply.code(202).send({ hello: 'world', received: body !== undefined });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { url: `http://127.0.0.1:${port}`, app };
}

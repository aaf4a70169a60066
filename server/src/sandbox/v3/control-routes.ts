// GET / POST /sandbox/v3/signing: which key signs a merchant's API v3 answers and notifications, the
// WeChat Pay public key (mode public-key, Wechatpay-Serial = PUB_KEY_ID_…, the default) or the platform
// certificate (mode certificate, Wechatpay-Serial = its serial). Without mchId a POST sets every merchant's.
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { SandboxState } from '../state.js';
import type { V3Keys } from './keys.js';

const Mode = Type.Union([Type.Literal('public-key'), Type.Literal('certificate')]);
const SigningBodySchema = Type.Object({ mode: Mode, mchId: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })) }, { additionalProperties: false });
const SigningSchema = Type.Object({
  mode: Mode,
  merchants: Type.Record(Type.String(), Mode),
  publicKeyId: Type.String(),
  platformSerial: Type.String(),
});

export async function v3ControlRoutes(app: FastifyInstance, opts: { state: SandboxState; keys: V3Keys }): Promise<void> {
  const { keys, state } = opts;
  const view = () => ({ ...keys.snapshot(), publicKeyId: keys.wechatpay.publicKeyId, platformSerial: keys.wechatpay.platformSerial });
  app.get('/sandbox/v3/signing', { schema: { response: { 200: SigningSchema } } }, async () => view());
  app.post<{ Body: Static<typeof SigningBodySchema> }>('/sandbox/v3/signing', { schema: { body: SigningBodySchema } }, async (req, reply) => {
    const { mode, mchId } = req.body;
    if (mchId !== undefined && !state.merchantByMchId(mchId)) {
      return reply.code(400).send({ statusCode: 400, code: 'UNKNOWN_MCH_ID', error: 'Bad Request', message: `mch_id ${mchId} is not registered with the sandbox` });
    }
    keys.setMode(mode, mchId);
    return view();
  });
}

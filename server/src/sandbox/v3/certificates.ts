// GET /v3/certificates (下载平台证书): the sandbox's platform certificate, its PEM encrypted with the
// merchant's APIv3 key (associated_data "certificate"). Always signed with the platform certificate
// itself, whatever the merchant's signing mode: it is how a client on certificates bootstraps.
import { X509Certificate } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { aesGcmEncrypt } from '../../wechat/v3/crypto.js';
import type { SandboxCore } from '../core.js';
import { v3Api } from './http.js';
import type { V3Keys } from './keys.js';
import { rfc3339Beijing } from '../../wechat/v3/wire.js';

export async function v3CertificateRoutes(app: FastifyInstance, opts: { core: SandboxCore; keys: V3Keys }): Promise<void> {
  const { keys } = opts;
  const { route } = v3Api(app, opts.core.state, keys);
  const cert = new X509Certificate(keys.wechatpay.platformCertPem);
  route('GET', '/v3/certificates', (ctx) => {
    const enc = aesGcmEncrypt(keys.wechatpay.platformCertPem, ctx.merchant.apiV3Key as string, 'certificate');
    return {
      mode: 'certificate',
      json: {
        data: [
          {
            serial_no: keys.wechatpay.platformSerial,
            effective_time: rfc3339Beijing(new Date(cert.validFrom).getTime()),
            expire_time: rfc3339Beijing(new Date(cert.validTo).getTime()),
            encrypt_certificate: { algorithm: enc.algorithm, nonce: enc.nonce, associated_data: enc.associated_data, ciphertext: enc.ciphertext },
          },
        ],
      },
    };
  });
}

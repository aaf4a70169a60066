// api.weixin.qq.com's web OAuth side: GET /sns/oauth2/access_token, which turns the single-use code
// of a 公众号 authorize redirect (snsapi_base / snsapi_userinfo) or of the mobile SDK's sendAuth
// (open-platform app, snsapi_userinfo) into the user's openid for that appid (and unionid).
//
// The codes live in OAuthCodes, exported so that whatever hands codes out (the sandbox's
// /connect/oauth2/authorize page, POST /sandbox/oauth-codes playing the mobile SDK) mints them in
// the one store this route redeems from. Codes are single use and live 5 minutes, as WeChat's do.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { Faults } from './faults.js';
import { rid } from './ids.js';
import type { SandboxState } from './state.js';

export type OAuthScope = 'snsapi_base' | 'snsapi_userinfo';

/** The OAuth codes of the 公众号 and mobile apps: minted by an authorize page or the SDK, redeemed once. */
export class OAuthCodes {
  private readonly scopes = new Map<string, OAuthScope>();

  constructor(private readonly state: SandboxState) {}

  /** A single-use code for (appid, openid); a new openid of this appid when none is given. */
  mint(appid: string, opts: { openid?: string; unionid?: string; scope?: OAuthScope } = {}): { code: string; openid: string } {
    const minted = this.state.mintLoginCode(appid, opts.openid, opts.unionid);
    if (this.scopes.size > 10_000) this.scopes.clear();
    this.scopes.set(minted.code, opts.scope ?? (this.state.kindOf(appid) === 'open' ? 'snsapi_userinfo' : 'snsapi_base'));
    return minted;
  }

  redeem(appid: string, code: string): { ok: true; openid: string; unionid?: string; scope: OAuthScope } | { ok: false; reason: 'invalid' | 'used' } {
    const r = this.state.redeemLoginCode(appid, code);
    if (!r.ok) return r;
    const scope = this.scopes.get(code) ?? 'snsapi_base';
    return { ok: true, openid: r.openid, ...(r.unionid ? { unionid: r.unionid } : {}), scope };
  }
}

export interface SnsRoutesOptions {
  state: SandboxState;
  faults: Faults;
  codes: OAuthCodes;
}

type Query = Record<string, string | string[] | undefined>;
const one = (q: Query, name: string) => {
  const v = q[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
};

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

const OAuthCodeBodySchema = Type.Object(
  {
    appid: Type.String({ minLength: 1, maxLength: 32 }),
    openid: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' })),
    unionid: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' })),
    scope: Type.Optional(Type.Union([Type.Literal('snsapi_base'), Type.Literal('snsapi_userinfo')])),
  },
  { additionalProperties: false },
);

const LOGIN_FAULT_MSG: Record<number, string> = { 45011: 'api minute-quota reach limit  mustslower  retry next minute', 40226: 'high risk user', [-1]: 'system error' };

export async function snsRoutes(app: FastifyInstance, opts: SnsRoutesOptions): Promise<void> {
  const { state, faults, codes } = opts;
  const err = (errcode: number, errmsg: string) => ({ errcode, errmsg: `${errmsg}, rid: ${rid()}` });
  // WeChat answers this one with content-type text/plain too.
  const send = (reply: FastifyReply, body: object) =>
    reply.code(200).header('content-type', 'text/plain').send(Buffer.from(JSON.stringify(body), 'utf8'));

  app.get('/sns/oauth2/access_token', async (req, reply) => {
    const q = req.query as Query;
    const appid = one(q, 'appid');
    const secret = one(q, 'secret');
    if (!appid) return send(reply, err(41002, 'appid missing'));
    const expected = state.secretOf(appid);
    // ASSUMPTION: a mini-program appid has no web OAuth; WeChat's answer to one is not documented: invalid appid.
    if (expected === undefined || state.kindOf(appid) === 'mp') return send(reply, err(40013, 'invalid appid'));
    if (!secret) return send(reply, err(41004, 'appsecret missing'));
    if (!sameSecret(secret, expected)) return send(reply, err(40125, 'invalid appsecret'));
    const code = one(q, 'code');
    if (!code) return send(reply, err(41008, 'missing code'));
    if (one(q, 'grant_type') !== 'authorization_code') return send(reply, err(40002, 'invalid grant_type'));
    const fault = faults.takeLogin();
    if (fault !== undefined) return send(reply, err(fault, LOGIN_FAULT_MSG[fault] ?? 'system error'));
    const r = codes.redeem(appid, code);
    if (!r.ok) return send(reply, r.reason === 'used' ? err(40163, 'code been used') : err(40029, 'invalid code'));
    return send(reply, {
      access_token: randomBytes(48).toString('base64url'),
      expires_in: 7200,
      refresh_token: randomBytes(48).toString('base64url'),
      openid: r.openid,
      scope: r.scope,
      ...(r.unionid ? { unionid: r.unionid } : {}),
    });
  });

  // Plays the mobile SDK's sendAuth (or any authorize step) for tests and scripts: a code for an openid.
  app.post<{ Body: Static<typeof OAuthCodeBodySchema> }>(
    '/sandbox/oauth-codes',
    { schema: { body: OAuthCodeBodySchema } },
    async (req, reply) => {
      const { appid, openid, unionid, scope } = req.body;
      const kind = state.kindOf(appid);
      if (kind === undefined) return reply.code(400).send({ statusCode: 400, code: 'UNKNOWN_APPID', error: 'Bad Request', message: `appid ${appid} is not registered with the sandbox` });
      if (kind === 'mp') return reply.code(400).send({ statusCode: 400, code: 'NOT_AN_OAUTH_APP', error: 'Bad Request', message: 'a mini-program logs in with wx.login: use /sandbox/login-codes' });
      if (openid !== undefined && state.openidTakenByOther(openid, appid)) {
        return reply.code(409).send({ statusCode: 409, code: 'OPENID_OF_OTHER_APPID', error: 'Conflict', message: 'this openid belongs to another appid' });
      }
      return codes.mint(appid, { ...(openid ? { openid } : {}), ...(unionid ? { unionid } : {}), ...(scope ? { scope } : {}) });
    },
  );
}

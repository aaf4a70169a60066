// api.weixin.qq.com as it answers: GET /sns/jscode2session, GET /cgi-bin/token and (subscribe.ts)
// POST /cgi-bin/message/subscribe/send with the tokens issued here.
// HTTP 200 always; errors as { errcode, errmsg } with WeChat's ", rid: ..." suffix.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Faults } from './faults.js';
import { rid } from './ids.js';
import type { SandboxState } from './state.js';
import { subscribeControlRoutes, subscribeRoutes, SubscribeState } from './subscribe.js';
import { ticketRoutes, type JsapiTickets } from './oauth-routes.js';

export interface WeixinRoutesOptions {
  state: SandboxState;
  faults: Faults;
  /** /cgi-bin/ticket/getticket's tickets (oauth-routes.ts), issued for this listener's access tokens */
  tickets?: JsapiTickets;
}

const LOGIN_FAULT_MSG: Record<number, string> = {
  45011: 'api minute-quota reach limit  mustslower  retry next minute',
  40226: 'high risk user',
  [-1]: 'system error',
};

type Query = Record<string, string | string[] | undefined>;

function one(q: Query, name: string): string | undefined {
  const v = q[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function weixinRoutes(app: FastifyInstance, opts: WeixinRoutesOptions): Promise<void> {
  const { state, faults } = opts;
  const subscribe = new SubscribeState(state.now);
  await app.register(subscribeRoutes, { state, faults, subscribe });
  await app.register(subscribeControlRoutes, { state, faults, subscribe });
  if (opts.tickets) await app.register(ticketRoutes, { subscribe, tickets: opts.tickets });

  // jscode2session answers JSON with content-type text/plain, as WeChat's does.
  // Sent as a Buffer: given a string, Fastify rewrites the content-type (adds "; charset=utf-8" and
  // quotes parameters), and WeChat's exact header would be lost.
  const send = (reply: FastifyReply, body: object, contentType: string): FastifyReply =>
    reply.code(200).header('content-type', contentType).send(Buffer.from(JSON.stringify(body), 'utf8'));
  const err = (errcode: number, errmsg: string) => ({ errcode, errmsg: `${errmsg}, rid: ${rid()}` });

  /** appid and secret as both endpoints check them; an error body or undefined. */
  function credentials(q: Query): { errcode: number; errmsg: string } | undefined {
    const appid = one(q, 'appid');
    const secret = one(q, 'secret');
    if (!appid) return err(41002, 'appid missing');
    const expected = state.secretOf(appid);
    if (expected === undefined) return err(40013, 'invalid appid');
    if (!secret) return err(41004, 'appsecret missing');
    if (!sameSecret(secret, expected)) return err(40125, 'invalid appsecret');
    return undefined;
  }

  app.get('/sns/jscode2session', async (req, reply) => {
    const ct = 'text/plain';
    const q = req.query as Query;
    const bad = credentials(q);
    if (bad) return send(reply, bad, ct);
    const grant = one(q, 'grant_type');
    if (grant !== undefined && grant !== 'authorization_code') return send(reply, err(40002, 'invalid grant_type'), ct);
    const code = one(q, 'js_code');
    if (!code) return send(reply, err(41008, 'missing code'), ct);
    const fault = faults.takeLogin();
    if (fault !== undefined) return send(reply, err(fault, LOGIN_FAULT_MSG[fault] ?? 'system error'), ct);
    const r = state.redeemLoginCode(one(q, 'appid') as string, code);
    if (!r.ok) return send(reply, r.reason === 'used' ? err(40163, 'code been used') : err(40029, 'invalid code'), ct);
    return send(reply, { session_key: r.sessionKey, openid: r.openid, ...(r.unionid ? { unionid: r.unionid } : {}) }, ct);
  });

  app.get('/cgi-bin/token', async (req, reply) => {
    const ct = 'application/json; encoding=utf-8';
    const q = req.query as Query;
    if (one(q, 'grant_type') !== 'client_credential') return send(reply, err(40002, 'invalid grant_type'), ct);
    const bad = credentials(q);
    if (bad) return send(reply, bad, ct);
    return send(reply, subscribe.issueToken(one(q, 'appid') as string), ct);
  });
}

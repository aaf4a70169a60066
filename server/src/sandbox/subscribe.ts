// Subscribe messages, as api.weixin.qq.com answers them: POST /cgi-bin/message/subscribe/send with
// the access token /cgi-bin/token issued (41001 missing, 40001 unknown or replaced more than 5
// minutes ago, 42001 expired), 40003 an openid not of this appid, 40037 an unknown template, 41030 a
// bad page, 47003 data that breaks its keyword's rules (errmsg names the field), 43101 no send left:
// a one-time subscription is one send, granted when the user accepts (POST /sandbox/subscriptions,
// what the WeChat client does on "allow"). Every call past the token check is recorded
// (GET /sandbox/subscribe-messages); POST /sandbox/faults {"subscribe": …} forces an errcode.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { SandboxSubscribeMessage } from '../../../shared/api.js';
import type { Faults } from './faults.js';
import { newAccessToken, rid } from './ids.js';
import type { SandboxState } from './state.js';

/** The sandbox's demo "payment succeeded" template (the mini-program's develop config asks for it). */
export const SANDBOX_PAID_TEMPLATE = {
  id: 'sandbox-paid-template-0000000000000000000001',
  title: '支付成功通知',
  /** keyword → what it holds; the server's default field map fills exactly these */
  keywords: ['character_string1', 'amount2', 'thing3', 'time4'] as readonly string[],
};

export const ACCESS_TOKEN_TTL_MS = 7200 * 1000;
/** WeChat keeps the previous token valid this long after a new one is issued */
export const TOKEN_OVERLAP_MS = 5 * 60 * 1000;

/** What GET /sandbox/subscribe-messages lists: every call past the token check, with the answer. */
export type RecordedMessage = SandboxSubscribeMessage;

const DATE = '(?:\\d{4}年\\d{1,2}月\\d{1,2}日|\\d{4}-\\d{1,2}-\\d{1,2})';
const CLOCK = '\\d{1,2}:\\d{2}(?::\\d{2})?';
/** WeChat's rules per keyword type (订阅消息参数值内容限制说明) */
const RULES: Record<string, (v: string) => boolean> = {
  thing: (v) => [...v].length <= 20,
  character_string: (v) => /^[\x21-\x7e]{1,32}$/.test(v),
  number: (v) => /^\d{1,32}(?:\.\d+)?$/.test(v),
  letter: (v) => /^[A-Za-z]{1,32}$/.test(v),
  symbol: (v) => [...v].length <= 5 && !/[\p{L}\d]/u.test(v),
  amount: (v) => /^[¥￥$€£]?\d{1,10}(?:\.\d{1,2})?元?$/.test(v) && /[¥￥$€£元]/.test(v),
  time: (v) => new RegExp(`^(?:${DATE} )?${CLOCK}$`).test(v),
  date: (v) => new RegExp(`^${DATE}(?: ${CLOCK})?$`).test(v),
  phone_number: (v) => /^[\d+\-]{1,17}$/.test(v),
  car_number: (v) => [...v].length <= 8,
  name: (v) => (/^[\u4e00-\u9fff·]+$/.test(v) ? [...v].length <= 10 : /^[A-Za-z .]{1,20}$/.test(v)),
  phrase: (v) => /^[\u4e00-\u9fff]{1,5}$/.test(v),
};

/** The first problem of a message's data, as WeChat words it (without the rid), or null. */
export function dataProblem(data: unknown, keywords: readonly string[] | undefined): string | null {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'argument invalid! data is empty';
  const d = data as Record<string, unknown>;
  for (const k of keywords ?? []) if (!(k in d)) return `argument invalid! data.${k}.value is empty`;
  for (const [key, entry] of Object.entries(d)) {
    const type = /^([a-z_]+?)\d+$/.exec(key)?.[1];
    const rule = type === undefined ? undefined : RULES[type];
    if (rule === undefined || (keywords !== undefined && !keywords.includes(key))) return `argument invalid! data.${key} not exist`;
    const value = typeof entry === 'object' && entry !== null ? (entry as { value?: unknown }).value : undefined;
    if (value === undefined || value === null || value === '') return `argument invalid! data.${key}.value is empty`;
    if (typeof value !== 'string' && typeof value !== 'number') return `argument invalid! data.${key}.value invalid`;
    if (!rule(String(value))) return `argument invalid! data.${key}.value invalid`;
  }
  return null;
}

/** Access tokens, one-time subscriptions and the record of sends, in memory like the rest of the sandbox. */
export class SubscribeState {
  private readonly tokens = new Map<string, { appid: string; expiresAt: number; replacedAt?: number }>();
  private readonly latest = new Map<string, string>();
  private readonly credits = new Map<string, number>();
  private readonly templates = new Map<string, Set<string>>();
  readonly messages: RecordedMessage[] = [];

  constructor(private readonly now: () => number) {}

  issueToken(appid: string): { access_token: string; expires_in: number } {
    const token = newAccessToken();
    const previous = this.latest.get(appid);
    const old = previous === undefined ? undefined : this.tokens.get(previous);
    if (old !== undefined && old.replacedAt === undefined) old.replacedAt = this.now();
    this.tokens.set(token, { appid, expiresAt: this.now() + ACCESS_TOKEN_TTL_MS });
    this.latest.set(appid, token);
    if (this.tokens.size > 10_000) {
      for (const [k, v] of this.tokens) if (v.expiresAt <= this.now()) this.tokens.delete(k);
    }
    return { access_token: token, expires_in: ACCESS_TOKEN_TTL_MS / 1000 };
  }

  /** The appid a token is valid for, or the errcode WeChat answers. */
  checkToken(token: string | undefined): { appid: string } | { errcode: 41001 | 40001 | 42001; errmsg: string } {
    if (token === undefined || token === '') return { errcode: 41001, errmsg: 'access_token missing' };
    const t = this.tokens.get(token);
    const now = this.now();
    if (t === undefined || (t.replacedAt !== undefined && now - t.replacedAt > TOKEN_OVERLAP_MS)) {
      return { errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' };
    }
    if (now >= t.expiresAt) return { errcode: 42001, errmsg: 'access_token expired' };
    return { appid: t.appid };
  }

  private key(appid: string, openid: string, templateId: string): string {
    return `${appid}\u0000${openid}\u0000${templateId}`;
  }

  grant(appid: string, openid: string, templateId: string, count: number): number {
    const k = this.key(appid, openid, templateId);
    const n = (this.credits.get(k) ?? 0) + count;
    this.credits.set(k, n);
    let known = this.templates.get(appid);
    if (known === undefined) this.templates.set(appid, (known = new Set()));
    known.add(templateId);
    return n;
  }

  /** Uses one send; false when none is left (43101). */
  take(appid: string, openid: string, templateId: string): boolean {
    const k = this.key(appid, openid, templateId);
    const n = this.credits.get(k) ?? 0;
    if (n <= 0) return false;
    this.credits.set(k, n - 1);
    return true;
  }

  templateKnown(appid: string, templateId: string): boolean {
    return templateId === SANDBOX_PAID_TEMPLATE.id || (this.templates.get(appid)?.has(templateId) ?? false);
  }

  keywordsOf(templateId: string): readonly string[] | undefined {
    return templateId === SANDBOX_PAID_TEMPLATE.id ? SANDBOX_PAID_TEMPLATE.keywords : undefined;
  }
}

const SubscriptionBodySchema = Type.Object(
  {
    appid: Type.String({ minLength: 1, maxLength: 32 }),
    openid: Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' }),
    template_id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' }),
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  },
  { additionalProperties: false },
);
type SubscriptionBody = Static<typeof SubscriptionBodySchema>;

const STATES = ['developer', 'trial', 'formal'];
const LANGS = ['zh_CN', 'en_US', 'zh_HK', 'zh_TW'];

export interface SubscribeRoutesOptions {
  state: SandboxState;
  faults: Faults;
  subscribe: SubscribeState;
}

export async function subscribeRoutes(app: FastifyInstance, opts: SubscribeRoutesOptions): Promise<void> {
  const { state, faults, subscribe } = opts;
  const err = (errcode: number, errmsg: string) => ({ errcode, errmsg: `${errmsg} rid: ${rid()}` });

  // WeChat reads the body as JSON whatever its content-type says, and answers bad JSON with 47001.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.post('/cgi-bin/message/subscribe/send', async (req, reply) => {
    reply.header('content-type', 'application/json; encoding=utf-8');
    const q = req.query as Record<string, unknown>;
    const token = subscribe.checkToken(typeof q.access_token === 'string' ? q.access_token : undefined);
    if ('errcode' in token) return err(token.errcode, token.errmsg);
    let msg: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(typeof req.body === 'string' ? req.body : '');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      msg = parsed as Record<string, unknown>;
    } catch {
      return err(47001, 'data format error');
    }
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const appid = token.appid;
    const touser = str(msg.touser) ?? '';
    const templateId = str(msg.template_id) ?? '';
    const record = (errcode: number, errmsg: string) => {
      const entry: RecordedMessage = {
        at: new Date(state.now()).toISOString(),
        appid,
        touser,
        template_id: templateId,
        data: (typeof msg.data === 'object' && msg.data !== null ? msg.data : {}) as RecordedMessage['data'],
        errcode,
        errmsg,
      };
      for (const f of ['page', 'miniprogram_state', 'lang'] as const) {
        const v = str(msg[f]);
        if (v !== undefined) entry[f] = v;
      }
      subscribe.messages.push(entry);
      if (subscribe.messages.length > 10_000) subscribe.messages.shift();
      return errcode === 0 ? { errcode: 0, errmsg: 'ok' } : err(errcode, errmsg);
    };

    const forced = faults.takeSubscribe();
    if (forced !== undefined) return record(forced, FAULT_MSG[forced] ?? 'system error');
    if (touser === '' || !state.openidBelongsTo(touser, appid)) return record(40003, 'invalid openid');
    if (templateId === '' || !subscribe.templateKnown(appid, templateId)) return record(40037, 'invalid template_id');
    const page = str(msg.page);
    if (msg.page !== undefined && (page === undefined || !/^\/?[\w\-./]+(\?[^\s#]*)?$/.test(page))) return record(41030, 'invalid page');
    if (msg.miniprogram_state !== undefined && !STATES.includes(String(msg.miniprogram_state))) return record(47003, 'argument invalid! miniprogram_state invalid');
    if (msg.lang !== undefined && !LANGS.includes(String(msg.lang))) return record(47003, 'argument invalid! lang invalid');
    const problem = dataProblem(msg.data, subscribe.keywordsOf(templateId));
    if (problem !== null) return record(47003, problem);
    if (!subscribe.take(appid, touser, templateId)) return record(43101, 'user refuse to accept the msg');
    return record(0, 'ok');
  });

}

/** The sandbox's own side of subscribe messages: grants (the user's "allow") and the record of sends. */
export async function subscribeControlRoutes(app: FastifyInstance, opts: SubscribeRoutesOptions): Promise<void> {
  const { state, subscribe } = opts;
  await app.register(async (control) => {
    control.setErrorHandler((e: Error & { validation?: unknown; statusCode?: number }, _req, reply) => {
      const status = e.validation ? 400 : (e.statusCode ?? 500);
      return reply.code(status).send({ statusCode: status, code: e.validation ? 'VALIDATION_ERROR' : 'INTERNAL', error: status === 400 ? 'Bad Request' : 'Error', message: e.message });
    });

    control.post<{ Body: SubscriptionBody }>('/sandbox/subscriptions', { schema: { body: SubscriptionBodySchema } }, async (req, reply) => {
      const { appid, openid, template_id: templateId, count } = req.body;
      if (!state.appidKnown(appid)) return reply.code(400).send({ statusCode: 400, code: 'UNKNOWN_APPID', error: 'Bad Request', message: `appid ${appid} is not registered with the sandbox` });
      if (!state.openidBelongsTo(openid, appid)) {
        return reply.code(409).send({ statusCode: 409, code: 'OPENID_OF_OTHER_APPID', error: 'Conflict', message: 'this openid was not issued for this appid' });
      }
      return { remaining: subscribe.grant(appid, openid, templateId, count ?? 1) };
    });

    control.get<{ Querystring: { touser?: string; template_id?: string } }>(
      '/sandbox/subscribe-messages',
      { schema: { querystring: Type.Object({ touser: Type.Optional(Type.String({ maxLength: 128 })), template_id: Type.Optional(Type.String({ maxLength: 128 })) }) } },
      async (req) => ({
        messages: subscribe.messages.filter(
          (m) => (req.query.touser === undefined || m.touser === req.query.touser) && (req.query.template_id === undefined || m.template_id === req.query.template_id),
        ),
      }),
    );
  });
}

const FAULT_MSG: Record<number, string> = {
  43101: 'user refuse to accept the msg',
  40037: 'invalid template_id',
  47003: 'argument invalid! data.thing3.value invalid',
  40001: 'invalid credential, access_token is invalid or not latest',
  42001: 'access_token expired',
  [-1]: 'system error',
  45009: 'reach max api daily quota limit',
};

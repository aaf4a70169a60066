// The server-rendered pages of the channels (Native checkout, the one-code scan page): plain HTML,
// Chinese first, no framework. Every value put into a page goes through esc().

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

/** ¥12.34 from fen */
export function yuan(fen: number): string {
  return `¥${(fen / 100).toFixed(2)}`;
}

const STYLE = `
[hidden]{display:none!important}*{box-sizing:border-box}body{margin:0;font-family:-apple-system,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;background:#f5f6f7;color:#1f2329}
main{max-width:560px;margin:0 auto;padding:24px 16px}h1{font-size:22px;margin:8px 0 16px}
.card{background:#fff;border-radius:12px;padding:20px;margin-bottom:16px;box-shadow:0 1px 3px rgba(0,0,0,.06)}
.amount{font-size:32px;font-weight:600;color:#07c160}.muted{color:#8f959e;font-size:14px}
.qr{display:block;margin:12px auto;width:240px;height:240px;image-rendering:pixelated}
.status{font-size:18px;text-align:center;margin:12px 0}.ok{color:#07c160}.bad{color:#f54a45}
button,.button{display:inline-block;background:#07c160;color:#fff;border:0;border-radius:8px;padding:12px 24px;font-size:16px;text-decoration:none;cursor:pointer}
ul{padding-left:20px}li{margin:4px 0}`;

/** A whole page: lang zh-CN, no referrer (page URLs may carry a view token), mobile-first. */
export function page(title: string, body: string, opts: { script?: string } = {}): string {
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
${opts.script ? `<script>${opts.script}</script>` : ''}
</body>
</html>
`;
}

/** Security headers every channel page gets: no caching, no referrer, no framing, scripts only inline ones we wrote. */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
} as const;

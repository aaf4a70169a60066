// A code_url (or any URL a printed code carries) as a QR code, with the well-kept `qrcode` package:
// SVG for pages (sharp at any size), PNG for printing and for clients that want a bitmap.
import QRCode from 'qrcode';

const OPTIONS = { errorCorrectionLevel: 'M' as const, margin: 2 };

export function qrSvg(text: string): Promise<string> {
  return QRCode.toString(text, { ...OPTIONS, type: 'svg' });
}

export function qrPng(text: string, width = 320): Promise<Buffer> {
  return QRCode.toBuffer(text, { ...OPTIONS, type: 'png', width });
}

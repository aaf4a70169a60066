import { Schema, type Connection, type Model } from 'mongoose';

/**
 * (appid, openid) → buyer. The key is one string, `appid:openid`, so that the lookup is a lone `_id`
 * equality (answered from the primary key on MongoDB and on the embedded FerretDB alike) and the
 * uniqueness of a link is the primary key's.
 */
export interface BuyerLinkDoc {
  _id: string;
  buyerId: string;
  appid: string;
  openid: string;
  unionid?: string;
  createdAt: Date;
}

/** unionid → buyer: one person across the merchant's apps. Claimed once (the primary key), never moved. */
export interface BuyerUnionDoc {
  _id: string;
  buyerId: string;
  createdAt: Date;
}

const BuyerLinkSchema = new Schema<BuyerLinkDoc>(
  {
    _id: { type: String, required: true },
    buyerId: { type: String, required: true },
    appid: { type: String, required: true },
    openid: { type: String, required: true },
    unionid: String,
    createdAt: { type: Date, required: true },
  },
  { collection: 'buyer_links', versionKey: false },
);
// every app's link of one buyer (operators, merges later)
BuyerLinkSchema.index({ buyerId: 1 });

const BuyerUnionSchema = new Schema<BuyerUnionDoc>(
  { _id: { type: String, required: true }, buyerId: { type: String, required: true }, createdAt: { type: Date, required: true } },
  { collection: 'buyer_unionids', versionKey: false },
);

export interface BuyerModels {
  BuyerLink: Model<BuyerLinkDoc>;
  BuyerUnion: Model<BuyerUnionDoc>;
}

export async function buyerModels(conn: Connection): Promise<BuyerModels> {
  const BuyerLink = (conn.models.BuyerLink as Model<BuyerLinkDoc> | undefined) ?? conn.model<BuyerLinkDoc>('BuyerLink', BuyerLinkSchema);
  const BuyerUnion = (conn.models.BuyerUnion as Model<BuyerUnionDoc> | undefined) ?? conn.model<BuyerUnionDoc>('BuyerUnion', BuyerUnionSchema);
  await BuyerLink.createIndexes();
  await BuyerUnion.createIndexes();
  return { BuyerLink, BuyerUnion };
}

export const linkKey = (appid: string, openid: string) => `${appid}:${openid}`;

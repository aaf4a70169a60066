import { Types } from 'mongoose';
import type { FastifyBaseLogger } from 'fastify';
import { linkKey, type BuyerLinkDoc, type BuyerModels } from './model.js';

export interface LinkInput {
  appid: string;
  openid: string;
  /** WeChat's unionid, when it gives one: the same person in every app of the open-platform account */
  unionid?: string;
}

export type BuyerService = ReturnType<typeof createBuyerService>;

const isDuplicate = (err: unknown) => (err as { code?: number }).code === 11000;

/**
 * The internal buyer id that owns orders, whatever app the buyer came through. Every write is an
 * insert under a unique primary key, so concurrent logins of one person (two instances, two apps)
 * agree on one buyer: the loser of an insert reads the winner's row.
 */
export function createBuyerService({ BuyerLink, BuyerUnion }: BuyerModels, log: FastifyBaseLogger) {
  /** The buyer of this unionid, claiming it for `candidate` when nobody has it yet. */
  async function buyerOfUnion(unionid: string, candidate: string): Promise<string> {
    for (let round = 0; round < 3; round++) {
      const found = await BuyerUnion.findOne({ _id: unionid }).lean();
      if (found) return found.buyerId;
      try {
        await BuyerUnion.create({ _id: unionid, buyerId: candidate, createdAt: new Date() });
        return candidate;
      } catch (err) {
        if (!isDuplicate(err)) throw err;
      }
    }
    throw new Error('buyers: unionid claim kept racing');
  }

  return {
    /**
     * (appid, openid) → buyer, made on first sight. With a unionid already linked to a buyer, that
     * buyer: one person across apps sees one order list.
     */
    async link(input: LinkInput): Promise<{ buyerId: string }> {
      const _id = linkKey(input.appid, input.openid);
      for (let round = 0; round < 3; round++) {
        const existing = await BuyerLink.findOne({ _id }).lean<BuyerLinkDoc>();
        if (existing) {
          if (input.unionid && existing.unionid !== input.unionid) {
            // A unionid seen for the first time on this link (the app was bound to the open platform later).
            const owner = await buyerOfUnion(input.unionid, existing.buyerId);
            if (owner !== existing.buyerId) {
              // Two buyers for one person: merging their orders is an operator's call, not a login's.
              log.warn({ followUp: true, event: 'buyer_unionid_conflict', appid: input.appid, buyerId: existing.buyerId, unionOwner: owner }, 'a unionid already belongs to another buyer: link kept as it was');
            } else if (!existing.unionid) {
              await BuyerLink.updateOne({ _id, unionid: { $exists: false } }, { $set: { unionid: input.unionid } });
            }
          }
          return { buyerId: existing.buyerId };
        }
        const candidate = new Types.ObjectId().toHexString();
        const buyerId = input.unionid ? await buyerOfUnion(input.unionid, candidate) : candidate;
        try {
          await BuyerLink.create({
            _id,
            buyerId,
            appid: input.appid,
            openid: input.openid,
            ...(input.unionid ? { unionid: input.unionid } : {}),
            createdAt: new Date(),
          });
          return { buyerId };
        } catch (err) {
          if (!isDuplicate(err)) throw err;
          // Another login of the same (appid, openid) won: its buyer it is.
        }
      }
      throw new Error('buyers: link kept racing');
    },

    /** The buyer of (appid, openid), if linked. */
    async find(appid: string, openid: string): Promise<string | null> {
      const found = await BuyerLink.findOne({ _id: linkKey(appid, openid) }).lean<BuyerLinkDoc>();
      return found?.buyerId ?? null;
    },

    /** Every app link of a buyer (for operators). */
    async links(buyerId: string): Promise<Pick<BuyerLinkDoc, 'appid' | 'openid' | 'unionid'>[]> {
      const rows = await BuyerLink.find({ buyerId }).lean<BuyerLinkDoc[]>();
      return rows.map(({ appid, openid, unionid }) => ({ appid, openid, ...(unionid ? { unionid } : {}) }));
    },
  };
}

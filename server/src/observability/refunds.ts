import type { RefundRepository } from '../refunds/repository.js';
import type { Metrics } from './metrics.js';

/** The refund repository, counting each state change its single winner makes (a new refund from NEW, one deleted unsent to DISCARDED). */
export function countRefundTransitions(repo: RefundRepository, metrics: Metrics): RefundRepository {
  return {
    ...repo,
    async create(r) {
      const doc = await repo.create(r);
      metrics.refundTransitions.inc({ from: 'NEW', to: doc.status });
      return doc;
    },
    // Only a refund that lost the race for the order's refundable amount, never sent: it is deleted.
    async remove(id) {
      await repo.remove(id);
      metrics.refundTransitions.inc({ from: 'PENDING', to: 'DISCARDED' });
    },
    async transition(id, from, to, ...rest) {
      const won = await repo.transition(id, from, to, ...rest);
      if (won) metrics.refundTransitions.inc({ from, to });
      return won;
    },
  };
}

import fp from 'fastify-plugin';
import { buyerModels } from '../buyers/model.js';
import { createBuyerService, type BuyerService } from '../buyers/service.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** buyer ids and their (appid, openid) / unionid links */
    buyers: BuyerService;
  }
}

export default fp(
  async (app) => {
    app.decorate('buyers', createBuyerService(await buyerModels(app.mongo), app.log));
  },
  { name: 'buyers', dependencies: ['mongo'] },
);

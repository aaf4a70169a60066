import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

export const ProductListSchema = Type.Object({
  items: Type.Array(
    Type.Object({ sku: Type.String(), name: Type.String(), description: Type.String(), price: Type.Integer() }),
  ),
});

const productRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/api/products', { schema: { response: { 200: ProductListSchema } } }, async () => ({
    items: [...app.catalog.list()],
  }));
};
export default productRoutes;

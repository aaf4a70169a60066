import type { Product, ProductList } from '../../shared/api.js';
import type { Auth } from './auth.js';

export interface ProductsService {
  list(): Promise<Product[]>;
}

export function createProducts(auth: Pick<Auth, 'send'>): ProductsService {
  return {
    async list() {
      const res = await auth.send<ProductList>({ method: 'GET', path: '/api/products' });
      return Array.isArray(res?.items) ? res.items : [];
    },
  };
}

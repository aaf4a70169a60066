import type { Product } from '../../shared/api.js';

// The server's price list: the only source of amounts. Prices are in fen.
const DEMO_PRODUCTS: readonly Product[] = Object.freeze([
  { sku: 'COFFEE-LATTE', name: '拿铁咖啡 Latte', description: 'Hot latte, 350 ml', price: 1800 },
  { sku: 'COFFEE-AMERICANO', name: '美式咖啡 Americano', description: 'Hot americano, 350 ml', price: 1500 },
  { sku: 'TEA-OOLONG', name: '乌龙茶 Oolong tea', description: 'Cold brew oolong, 500 ml', price: 1200 },
  { sku: 'CAKE-CHEESE', name: '芝士蛋糕 Cheesecake', description: 'A slice of baked cheesecake', price: 2650 },
  { sku: 'TEST-1FEN', name: '一分钱测试 One-fen test', description: 'For trying a real payment cheaply', price: 1 },
]);

export interface Catalog {
  list(): readonly Product[];
  get(sku: string): Product | undefined;
}

export function createCatalog(products: readonly Product[] = DEMO_PRODUCTS): Catalog {
  const bySku = new Map(products.map((p) => [p.sku, p]));
  return {
    list: () => products,
    get: (sku) => bySku.get(sku),
  };
}

export const MAX_LINE_QUANTITY = 99;
export const MAX_LINES = 20;
/** 100,000 yuan: above this an order is refused (a guard against absurd carts, not a WeChat limit). */
export const MAX_ORDER_AMOUNT = 10_000_000;

/** example/inventory: the extract and load steps of examples/etl.yaml, deterministic so its runs can be compared. */

import { defineAction, definePlugin } from '../../../sandbox/sdk/index.ts'

/** The stock: twenty items, some of them out of stock (qty 0). */
const STOCK = ['apples', 'pears', 'plums', 'figs', 'kiwis', 'limes', 'dates', 'grapes', 'melons', 'cherries',
  'lemons', 'mangoes', 'papayas', 'peaches', 'quinces', 'apricots', 'guavas', 'lychees', 'olives', 'oranges']
  .map((sku, i) => ({ sku, qty: (i * 7) % 5 === 1 ? 0 : 3 + ((i * 5) % 9) }))

export default definePlugin({
  actions: {
    list: defineAction<{ count: number }, { items: { sku: string; qty: number }[] }>(({ count }, ctx) => {
      const items = STOCK.slice(0, count)
      ctx.log.info(`listed ${items.length} items`)
      return { items }
    }),
    load: defineAction<{ sku: string; qty: number }, { sku: string; loaded: number }>(({ sku, qty }, ctx) => {
      ctx.log.info(`loaded ${qty} × ${sku}`)
      return { sku, loaded: qty }
    }),
  },
})

/**
 * `compute` remembered for each key it was asked for, up to `size` keys: past the bound the
 * memory starts over, so odd keys (a client's odd URL) cannot pile up. For values derived from a
 * handful of recurring strings, computed once each instead of once per request. `keep` decides
 * which keys are worth remembering (all by default).
 */
export function boundedCache<V>(
  size: number,
  compute: (key: string) => V,
  keep: (key: string) => boolean = () => true,
): (key: string) => V {
  const cache = new Map<string, V>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined) {
      value = compute(key);
      if (keep(key)) {
        if (cache.size >= size) cache.clear();
        cache.set(key, value);
      }
    }
    return value;
  };
}

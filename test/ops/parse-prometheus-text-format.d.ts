declare module 'parse-prometheus-text-format' {
  /** Prometheus text format to prom2json-style families. */
  export default function parsePrometheusTextFormat(text: string): unknown[];
}

/** Names shared by the benchmark's processes. */

/** The simulated upstream's accepted key and model id. */
export const UPSTREAM_API_KEY = 'k';
export const UPSTREAM_MODEL = 'm';

/** What clients of the gateway send. */
export const GATEWAY_KEY = 'sk-bench-key-0001';
export const GATEWAY_MODEL = 'bench-model';

/** Words in every answer, streaming or not (`[sim:words=N]`). */
export const ANSWER_WORDS = 20;

/** Every child prints this line, then the URL, once it accepts requests. */
export const READY_PATTERN = /listening on (http:\/\/\S+)/;

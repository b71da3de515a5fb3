// The actors read Go durations with the same parser as the router (one parser, thread-neutral).
export { parseGoDuration } from '../../src/protocol/go-duration.js';

// The SPDY/3 header-compression dictionary (SPDY draft 3, section 2.6.10.1). Every SPDY/3 peer primes
// zlib with exactly these 1423 bytes, so a header block compressed with any other dictionary fails in
// kubectl's Go inflater with "zlib: invalid dictionary". It is built here from its structure (a list of
// length-prefixed words, then a text tail) rather than pasted as hex, so a reader can check it; the unit
// tests pin its length and its Adler-32 (0xe3c6a7c2, the DICTID every SPDY/3 zlib stream carries).

/** Each word is written as a 32-bit big-endian length followed by its bytes. */
const LENGTH_PREFIXED_WORDS = [
  'options', 'head', 'post', 'put', 'delete', 'trace', 'accept', 'accept-charset', 'accept-encoding',
  'accept-language', 'accept-ranges', 'age', 'allow', 'authorization', 'cache-control', 'connection',
  'content-base', 'content-encoding', 'content-language', 'content-length', 'content-location',
  'content-md5', 'content-range', 'content-type', 'date', 'etag', 'expect', 'expires', 'from', 'host',
  'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since', 'last-modified',
  'location', 'max-forwards', 'pragma', 'proxy-authenticate', 'proxy-authorization', 'range', 'referer',
  'retry-after', 'server', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'vary', 'via',
  'warning', 'www-authenticate', 'method', 'get', 'status', '200 OK', 'version', 'HTTP/1.1', 'url',
  'public', 'set-cookie', 'keep-alive', 'origin',
] as const;

/** The tail is raw text with no separators: status codes, reason phrases, dates, media types. */
const TEXT_TAIL = [
  '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505',
  '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized',
  '403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable',
  'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT',
  'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,',
  'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.',
].join('');

function buildDictionary(): Buffer {
  const parts: Buffer[] = [];
  for (const word of LENGTH_PREFIXED_WORDS) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(word.length);
    parts.push(length, Buffer.from(word, 'latin1'));
  }
  parts.push(Buffer.from(TEXT_TAIL, 'latin1'));
  return Buffer.concat(parts);
}

/** The dictionary bytes; callers must not modify them. */
export const SPDY3_HEADER_DICTIONARY: Buffer = buildDictionary();

// Boolean query parameters as kube-apiserver reads them (runtime.Convert_Slice_string_To_bool, used for
// every *Options struct: ListOptions.watch, PodLogOptions.follow, PodExecOptions.stdin/tty, ...):
// absent is false, "0" and "false" in any case are false, and every other value, the empty string
// included, is true. So each form Go's strconv.ParseBool accepts as true ("1", "t", "T", "TRUE", "true",
// "True") is true, and so are "f" and "F" — which the apiserver, unlike ParseBool, does not treat as false.

/** The apiserver's reading of one boolean query value; `null` (absent) is false. */
export function parseQueryBool(value: string | null): boolean {
  if (value === null) return false;
  return value !== '0' && value.toLowerCase() !== 'false';
}

/** The first value of `name` in `query`, read as the apiserver reads a bool. */
export function queryFlag(query: URLSearchParams, name: string): boolean {
  return parseQueryBool(query.get(name));
}

"""PHP-style query strings, as the portal reads them.

Bitrix24 reads GET parameters, form bodies and `batch` commands with PHP's `parse_str`, so
`filter[>ID]=5&select[]=ID&select[]=TITLE&order[ID]=ASC` becomes nested arrays
(docs/bitrix24-api.md §1.2, §3). PHP has one array type; a map whose keys are exactly 0..n-1 is
returned here as a list.
"""

from urllib.parse import unquote_plus

_APPEND = object()


def parse_qs_php(query: str) -> dict:
    """Parse `query` like PHP's `parse_str`."""
    root: dict = {}
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        key, value = unquote_plus(key), unquote_plus(value)
        path = _key_path(key)
        if path:
            _assign(root, path, value)
    return _listify(root)


def _key_path(key: str) -> list:
    bracket = key.find("[")
    if bracket <= 0:
        return [key] if key else []
    path: list = [key[:bracket]]
    rest = key[bracket:]
    while rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            break
        segment = rest[1:end]
        path.append(_APPEND if segment == "" else segment)
        rest = rest[end + 1 :]
    return path


def _assign(node: dict, path: list, value: str) -> None:
    for i, segment in enumerate(path):
        last = i == len(path) - 1
        if segment is _APPEND:
            segment = str(sum(1 for k in node if k.isdigit()))
        if last:
            node[segment] = value
            return
        child = node.get(segment)
        if not isinstance(child, dict):
            child = node[segment] = {}
        node = child


def _listify(node):
    if not isinstance(node, dict):
        return node
    out = {k: _listify(v) for k, v in node.items()}
    if (
        out
        and all(k.isdigit() for k in out)
        and sorted(int(k) for k in out) == list(range(len(out)))
    ):
        return [out[str(i)] for i in range(len(out))]
    return out

"""Reads a commune's Open311 GeoReport v2 API with `georeport`, a third-party client from PyPI
that Parvis did not write, in one format, and prints what it read as one JSON document.

    python3 client.py <root address> <jurisdiction> <json|xml> <service code> <request id>

The test runs it against its server on loopback: the root address's host name resolves to
127.0.0.1 here, as the harness's own resolver does for the Rust clients (the communes' test
domain is not in any DNS).
"""

import json
import socket
import sys
import urllib.parse

_getaddrinfo = socket.getaddrinfo


_HOST = urllib.parse.urlsplit(sys.argv[1]).hostname


def _loopback(host, *args, **kwargs):
    if host == _HOST:
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback

from georeport import GeoReport  # noqa: E402


def main():
    root, jurisdiction, fmt, code, request_id = sys.argv[1:6]
    client = GeoReport(root, jurisdiction=jurisdiction, output_format=fmt)
    services = client.get_service_list()
    definition = client.get_service_definition(code)
    listed = client.get_service_requests(status="open")
    one = client.get_service_request(request_id)
    by_code = client.get_service_requests(service_code=code)
    print(
        json.dumps(
            {
                "services": services,
                "definition": definition,
                "listed": listed,
                "one": one,
                "by_code": by_code,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Synthetic log events (NDJSON) for the enrichment benchmark.

  ecs  Elastic Common Schema documents as Packetbeat / Elastic Endpoint write
       them: network flows, DNS, HTTP, TLS and file events, ~500 bytes a line.
  eve  Suricata EVE JSON: flow, dns, http, tls and fileinfo events of a
       similar size.

--hit-rate of the events carry an indicator value read from --values (the
'type<TAB>value' lines of `gen_misp.py --values-out`, or bare values), each in
a field of its kind: IPs in destination.ip / dest_ip (ip-src values in the
source address of an inbound connection), domains and hostnames in
destination.domain, dns.question.name, tls.client.server_name / dns.rrname,
http.hostname, tls.sni; URLs in url.full + url.original / http.hostname +
http.url (EVE: http:// URLs only, as Suricata sees no https URLs); hashes in file.hash.<md5|sha1|sha256> / fileinfo.<md5|sha1|sha256>.
Every other value is drawn from pools that cannot match the generated intel:
internal addresses are 10/8 (gen_misp.py never generates 10/8 addresses or
CIDRs), external ones are checked against every IP and CIDR in --values,
domains use TLDs gen_misp.py never uses, hashes are random, user agents use
templates gen_misp.py never writes.

Output is a pure function of the arguments. Lines are produced in chunks of
CHUNK lines, each with its own random stream derived from --seed, so --jobs
(worker processes) changes the speed, never the bytes. Lines are built from
%-templates: every generated string is made of characters JSON never
escapes. Only the Python standard library is used.

Side outputs: --jq-table writes a JSON object {value: 1} of every indicator
value in --values (composites also split into their parts), for the jq
baseline; --indicators-out writes the same values one per line (for `bloom
insert`). --sentinel appends one final line, an EVE `alert` event (an ECS
alert document for --format ecs), to time tools that stream.
"""

import argparse
import gc
import ipaddress
import json
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time

BASE_TIME = 1729500000          # 2024-10-21T08:40:00Z, as in gen_misp.py
EVENTS_PER_SECOND = 2000        # timestamps advance by 0.5 ms per event
CHUNK = 50000                   # lines per independent random stream
SENTINEL_SIG = "IOCBUS-BENCH-SENTINEL"

NON_INDICATORS = ("text", "comment")
HIT_TYPES = ("ip-dst", "ip-src", "domain", "hostname", "url", "md5", "sha1", "sha256")

SYLLABLES = ["ab", "ac", "al", "am", "an", "ar", "as", "at", "ba", "be", "bi", "bo", "ca", "ce", "ci", "co",
             "da", "de", "di", "el", "en", "er", "es", "ga", "ge", "go", "ha", "he", "in", "is", "la", "le"]
# gen_misp.py uses com net org info ru cn xyz top io biz online site club de: none of these.
SAFE_TLDS = ["co.uk", "fr", "nl", "se", "it", "es", "pl", "ch", "at", "be", "com.au", "ca", "us", "eu",
             "app", "dev", "cloud", "jp"]
HOST_PREFIX = ["www", "cdn", "api", "static", "img", "login", "portal", "m", "assets", "update"]
URL_PATHS = ["/", "/index.html", "/search", "/api/v2/items", "/static/css/main.css", "/static/js/bundle.js",
             "/images/logo.png", "/login", "/account/settings", "/news/2024/10/article", "/favicon.ico",
             "/feed.xml", "/cart/checkout", "/v1/metrics", "/assets/fonts/inter.woff2", "/product/view"]
QUERIES = ["", "", "", "?q=weather", "?page=2", "?id=%d", "?utm_source=newsletter&utm_medium=email", "?lang=en"]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "curl/7.88.1",
    "Microsoft-CryptoAPI/10.0",
    "Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.50",
    "Debian APT-HTTP/1.3 (2.6.1)",
]
METHODS = ["GET", "GET", "GET", "GET", "GET", "POST", "POST", "HEAD"]
STATUS = [200, 200, 200, 200, 200, 200, 304, 301, 302, 404, 204, 500]
PROCS = ["chrome.exe", "msedge.exe", "outlook.exe", "explorer.exe", "powershell.exe", "winword.exe",
         "7zFM.exe", "teams.exe"]
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
FILE_EXT = ["exe", "dll", "zip", "pdf", "docx", "xlsx", "msi", "js"]
DNS_TYPES = ["A", "A", "A", "AAAA", "A", "HTTPS", "A", "CNAME"]
TLS_VERSIONS = [("1.3", "TLS 1.3", "TLS_AES_128_GCM_SHA256"), ("1.3", "TLS 1.3", "TLS_AES_256_GCM_SHA384"),
                ("1.2", "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")]
SERVICES = [(443, "tls"), (443, "tls"), (443, "tls"), (80, "http"), (53, "dns"), (22, "ssh"), (8443, "tls"),
            (123, "ntp"), (993, "imap"), (3389, "rdp")]

# ------------------------------------------------------------------ ECS templates

ECS_FLOW = ('{"@timestamp":"%s","event":{"kind":"event","category":["network"],"type":["connection"],'
            '"dataset":"network_traffic.flow"},'
            '"source":{"ip":"%s","port":%d,"bytes":%d},"destination":{"ip":"%s","port":%d,"bytes":%d},'
            '"network":{"transport":"%s","type":"%s","protocol":"%s","bytes":%d,'
            '"packets":%d,"direction":"%s"},"host":{"name":"%s"},"ecs":{"version":"8.11.0"}}\n')
ECS_DNS = ('{"@timestamp":"%s","event":{"kind":"event","category":["network"],"type":["protocol"],'
           '"dataset":"network_traffic.dns"},'
           '"source":{"ip":"%s","port":%d},"destination":{"ip":"%s","port":53},'
           '"network":{"transport":"udp","type":"ipv4","protocol":"dns","direction":"egress"},'
           '"dns":{"id":%d,"response_code":"NOERROR",'
           '"question":{"name":"%s","type":"%s"},"resolved_ip":["%s"]},"host":{"name":"%s"},'
           '"ecs":{"version":"8.11.0"}}\n')
ECS_HTTP = ('{"@timestamp":"%s","event":{"kind":"event","category":["network","web"],"type":["access"],'
            '"dataset":"network_traffic.http"},'
            '"source":{"ip":"%s","port":%d},"destination":{"ip":"%s","port":%d},'
            '"url":{"full":"%s","original":"%s","domain":"%s"},'
            '"http":{"request":{"method":"%s"},"response":{"status_code":%d}},'
            '"user_agent":{"original":"%s"},"network":{"type":"%s","protocol":"http"},'
            '"host":{"name":"%s"},"ecs":{"version":"8.11.0"}}\n')
ECS_TLS = ('{"@timestamp":"%s","event":{"kind":"event","category":["network"],"type":["protocol"],'
           '"dataset":"network_traffic.tls"},'
           '"source":{"ip":"%s","port":%d},"destination":{"ip":"%s","port":%d,"domain":"%s"},'
           '"tls":{"version":"%s",'
           '"client":{"server_name":"%s","ja3":"%032x"},"server":{"ja3s":"%032x"}},'
           '"network":{"type":"%s","protocol":"tls"},"host":{"name":"%s"},'
           '"ecs":{"version":"8.11.0"}}\n')
ECS_FILE = ('{"@timestamp":"%s","event":{"kind":"event","category":["file"],"type":["creation"],'
            '"dataset":"endpoint.events.file"},'
            '"file":{"name":"%s","path":"C:\\\\Users\\\\%s\\\\Downloads\\\\%s","extension":"%s","size":%d,'
            '"hash":{"md5":"%s","sha1":"%s","sha256":"%s"}},"process":{"name":"%s","pid":%d},'
            '"user":{"name":"%s"},"host":{"name":"%s"},"ecs":{"version":"8.11.0"}}\n')
ECS_SENTINEL = ('{"@timestamp":"%s","event":{"kind":"alert","category":["intrusion_detection"],'
                '"dataset":"benchmark.sentinel"},"rule":{"name":"' + SENTINEL_SIG + '"},'
                '"source":{"ip":"10.255.255.1","port":1},"destination":{"ip":"10.255.255.2","port":2}}\n')

# ------------------------------------------------------------------ EVE templates

EVE_FLOW = ('{"timestamp":"%s","flow_id":%d,"event_type":"flow","src_ip":"%s","src_port":%d,'
            '"dest_ip":"%s","dest_port":%d,"proto":"%s","app_proto":"%s","flow":{"pkts_toserver":%d,'
            '"pkts_toclient":%d,"bytes_toserver":%d,"bytes_toclient":%d,"start":"%s","end":"%s","age":%d,'
            '"state":"closed","reason":"timeout","alerted":false},"community_id":"1:%s=",'
            '"tcp":{"tcp_flags":"1b","syn":true,"fin":true,"ack":true},"host":"sensor-01"}\n')
EVE_DNS = ('{"timestamp":"%s","flow_id":%d,"event_type":"dns","src_ip":"%s","src_port":%d,'
           '"dest_ip":"%s","dest_port":53,"proto":"UDP","community_id":"1:%s=","dns":{"version":2,"type":"answer",'
           '"id":%d,"flags":"8180","qr":true,"rd":true,"ra":true,"rrname":"%s","rrtype":"%s","rcode":"NOERROR",'
           '"answers":[{"rrname":"%s","rrtype":"A","ttl":%d,"rdata":"%s"}],"grouped":{"A":["%s"]}},'
           '"host":"sensor-01"}\n')
EVE_HTTP = ('{"timestamp":"%s","flow_id":%d,"event_type":"http","src_ip":"%s","src_port":%d,'
            '"dest_ip":"%s","dest_port":%d,"proto":"TCP","tx_id":%d,"community_id":"1:%s=",'
            '"http":{"hostname":"%s","url":"%s","http_user_agent":"%s","http_content_type":"text/html",'
            '"http_method":"%s","protocol":"HTTP/1.1","status":%d,"length":%d},"host":"sensor-01"}\n')
EVE_TLS = ('{"timestamp":"%s","flow_id":%d,"event_type":"tls","src_ip":"%s","src_port":%d,'
           '"dest_ip":"%s","dest_port":%d,"proto":"TCP","community_id":"1:%s=","tls":{"subject":"CN=%s",'
           '"issuerdn":"C=US, O=Example Trust, CN=R11","serial":"%s","fingerprint":"%s","sni":"%s",'
           '"version":"%s",'
           '"ja3":{"hash":"%032x"},"ja3s":{"hash":"%032x"}},"host":"sensor-01"}\n')
EVE_FILE = ('{"timestamp":"%s","flow_id":%d,"event_type":"fileinfo","src_ip":"%s",'
            '"src_port":%d,"dest_ip":"%s","dest_port":%d,"proto":"TCP","http":{"hostname":"%s","url":"/dl/%s",'
            '"http_user_agent":"%s","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":%d},'
            '"app_proto":"http","fileinfo":{"filename":"/dl/%s","gaps":false,"state":"CLOSED",'
            '"md5":"%s","sha1":"%s","sha256":"%s","stored":false,"size":%d,"tx_id":0},"host":"sensor-01"}\n')
EVE_SENTINEL = ('{"timestamp":"%s","flow_id":1,"in_iface":"eth0","event_type":"alert","src_ip":"10.255.255.1",'
                '"src_port":1,"dest_ip":"10.255.255.2","dest_port":2,"proto":"TCP","alert":{"action":"allowed",'
                '"gid":1,"signature_id":9999999,"rev":1,"signature":"' + SENTINEL_SIG + '",'
                '"category":"Benchmark","severity":3},"host":"sensor-01"}\n')


def ecs_time(t):
    """@timestamp text for epoch milliseconds t."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 1000)) + ".%03dZ" % (t % 1000)


def eve_time(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 1000)) + ".%03d%03d+0000" % (t % 1000, t * 7 % 1000)


def value_kind(typ, v):
    """(kind, value) to place for a hit: kind is ip/ip-src/domain/url/md5/sha1/sha256; None if unusable."""
    if typ in ("ip-dst", "ip-src"):
        if "/" in v:
            return None  # CIDR: no single address to place
        return ("ip-src" if typ == "ip-src" else "ip", v)
    if typ in ("domain", "hostname"):
        return ("domain", v)
    if typ == "url":
        if "://" not in v:
            return None
        return ("url", v)
    if typ in ("md5", "sha1", "sha256"):
        return (typ, v)
    return None


def guess_type(v):
    if "://" in v:
        return "url"
    if all(c in "0123456789abcdefABCDEF" for c in v):
        return {32: "md5", 40: "sha1", 64: "sha256"}.get(len(v), "other")
    try:
        ipaddress.ip_network(v, strict=False)
        return "ip-dst"
    except ValueError:
        pass
    return "domain" if "." in v else "other"


class Intel:
    """What --values says: every value (to avoid), CIDRs, the hit candidates."""

    def __init__(self, path):
        self.values = {}        # value -> None, insertion ordered (deterministic output)
        self.hits = []          # (kind, value)
        self.v4_nets = {}       # prefix length -> set of network ints
        self.v6_nets = {}
        self.lines = 0
        if not path:
            return
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line:
                    continue
                self.lines += 1
                typ, tab, v = line.partition("\t")
                if not tab:
                    v = typ
                    typ = guess_type(v)
                if typ in NON_INDICATORS:
                    continue
                parts = v.split("|") if "|" in typ else (v,)
                for p in (v,) + tuple(parts) if len(parts) > 1 else parts:
                    self.values[p] = None
                for p in parts:
                    if "/" in p and ("ip" in typ):
                        try:
                            n = ipaddress.ip_network(p, strict=False)
                        except ValueError:
                            continue
                        d = self.v4_nets if n.version == 4 else self.v6_nets
                        d.setdefault(n.prefixlen, set()).add(int(n.network_address) >> (n.max_prefixlen - n.prefixlen))
                hk = value_kind(typ, v)
                if hk is not None:
                    self.hits.append(hk)

    def ip_listed(self, text):
        if text in self.values:
            return True
        a = ipaddress.ip_address(text)
        x = int(a)
        nets, bits = (self.v4_nets, 32) if a.version == 4 else (self.v6_nets, 128)
        for plen, s in nets.items():
            if (x >> (bits - plen)) in s:
                return True
        return False


def build_pools(seed, intel):
    """Non-matching values shared by all chunks (from their own stream of the seed)."""
    r = random.Random(seed * 2654435761 + 17)
    rb = r.getrandbits
    P = {}
    # external IPv4 addresses: public-looking, not in any intel IP or CIDR
    ext = []
    while len(ext) < 1 << 16:
        x = rb(32)
        first = x >> 24
        if first in (0, 10, 127, 100, 169, 172, 192) or first >= 224:
            continue
        ip = "%d.%d.%d.%d" % (first, (x >> 16) & 255, (x >> 8) & 255, x & 255)
        if intel.ip_listed(ip):
            continue
        ext.append(ip)
    P["ext"] = ext
    ext6 = []
    while len(ext6) < 1 << 10:
        ip = str(ipaddress.IPv6Address((0xfd << 120) | rb(120)))
        if not intel.ip_listed(ip):
            ext6.append(ip)
    P["ext6"] = ext6
    P["int"] = ["10.%d.%d.%d" % (1 + (i >> 8), i & 255 if i & 255 else 1, 1 + (i * 37) % 254) for i in range(4096)]
    P["resolver"] = ["10.0.0.53", "10.0.1.53", "10.0.0.2"]
    P["host"] = ["ws-%04d.corp.example" % i for i in range(4096)]
    doms = []
    seen = set()
    while len(doms) < 1 << 15:
        label = "".join(SYLLABLES[rb(5)] for _ in range(2 + rb(2)))
        d = "%s.%s" % (label, SAFE_TLDS[r.randrange(len(SAFE_TLDS))])
        if r.random() < 0.7:
            d = "%s.%s" % (HOST_PREFIX[r.randrange(len(HOST_PREFIX))], d)
        if d in seen or d in intel.values:
            continue
        seen.add(d)
        doms.append(d)
    P["dom"] = doms
    paths = []
    for i in range(1 << 12):
        q = QUERIES[r.randrange(len(QUERIES))]
        if "%d" in q:
            q = q % r.randrange(1, 100000)
        paths.append(URL_PATHS[r.randrange(len(URL_PATHS))] + q)
    P["path"] = paths
    P["ua"] = [u for u in USER_AGENTS if u not in intel.values]
    P["cid"] = ["%s" % "".join("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[rb(6)]
                               for _ in range(27)) for _ in range(1 << 12)]
    P["fname"] = ["%s%s_%d" % (SYLLABLES[rb(5)], SYLLABLES[rb(5)], r.randrange(1000)) for _ in range(1 << 10)]
    return P


def md5h(rb):
    return "%032x" % rb(128)


def sha1h(rb):
    return "%040x" % rb(160)


def sha256h(rb):
    return "%064x" % rb(256)


def gen_chunk(args):
    """Lines [start, start+count) as one string, and the number of hit lines."""
    fmt, seed, start, count, hit_rate, base_ms = args
    P, hits = G_POOLS, G_HITS
    r = random.Random((seed << 32) ^ (start // CHUNK) * 0x9E3779B1 ^ 0x5BD1E995)
    rb, rr = r.getrandbits, r.random
    ext, ext6, intl, dom, path, ua, cid, host = P["ext"], P["ext6"], P["int"], P["dom"], P["path"], P["ua"], \
        P["cid"], P["host"]
    fname, resolver = P["fname"], P["resolver"]
    nua = len(ua)
    nhits = len(hits)
    out = []
    nhit = 0
    tcache_s = -1
    tprefix = ""
    ecs = fmt == "ecs"
    for i in range(start, start + count):
        t = base_ms + i // 2  # EVENTS_PER_SECOND = 2000: +0.5 ms per event
        s = t // 1000
        if s != tcache_s:
            tcache_s = s
            tprefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s))
        if ecs:
            ts = "%s.%03dZ" % (tprefix, t % 1000)
        else:
            ts = "%s.%03d%03d+0000" % (tprefix, t % 1000, (i * 389) % 1000)
        hk = hv = None
        if hit_rate > 0 and nhits and rr() < hit_rate:
            hk, hv = hits[int(rr() * nhits)]
            nhit += 1
        # event kind: flow 40 %, dns 25 %, http 20 %, tls 10 %, file 5 % (a hit forces a fitting kind)
        x = rb(5)
        if hk is None:
            kind = 0 if x < 13 else 1 if x < 21 else 2 if x < 27 else 3 if x < 30 else 4
        elif hk == "ip" or hk == "ip-src":
            kind = (0, 0, 2, 3)[x & 3]
        elif hk == "domain":
            kind = (1, 1, 2, 3)[x & 3]
        elif hk == "url":
            kind = 2
        else:
            kind = 4
        src = intl[rb(12)]
        sport = 1024 + rb(16) % 64000
        dst = ext[rb(16)] if rb(5) else ext6[rb(10)]
        v6 = ":" in dst
        inbound = False
        if hk == "ip":
            dst = hv
            v6 = ":" in dst
        elif hk == "ip-src":
            inbound = True
        if kind == 0:  # flow
            dport, proto = SERVICES[rb(16) % len(SERVICES)]
            if inbound:
                src, dst, sport = hv, intl[rb(12)], 1024 + rb(16) % 64000
                v6 = ":" in src
            b1, b2, p1, p2 = rb(16), rb(20), 1 + rb(6), 1 + rb(7)
            transport = "udp" if dport in (53, 123) else "tcp"
            if ecs:
                out.append(ECS_FLOW % (ts, src, sport, b1, dst, dport, b2, transport,
                                       "ipv6" if v6 else "ipv4", proto, b1 + b2, p1 + p2,
                                       "ingress" if inbound else "egress", host[rb(12)]))
            else:
                out.append(EVE_FLOW % (ts, rb(51), src, sport, dst, dport, transport.upper(), proto, p1, p2, b1,
                                       b2, ts, ts, rb(7), cid[rb(12)]))
        elif kind == 1:  # dns
            q = hv if hk == "domain" else dom[rb(15)]
            ans = ext[rb(16)]
            if ecs:
                out.append(ECS_DNS % (ts, src, sport, resolver[rb(1)], rb(16), q, DNS_TYPES[rb(3)], ans,
                                      host[rb(12)]))
            else:
                out.append(EVE_DNS % (ts, rb(51), src, sport, resolver[rb(1)], cid[rb(12)], rb(16), q,
                                      DNS_TYPES[rb(3)], q, 60 + rb(12), ans, ans))
        elif kind == 2:  # http
            if hk == "url":
                full = hv
                scheme, _, rest = full.partition("://")
                h, sl, p = rest.partition("/")
                upath = sl + p
                if "@" in h:
                    h = h.rpartition("@")[2]
                dport = 443 if scheme == "https" else 80
            else:
                h = hv if hk == "domain" else dom[rb(15)]
                upath = path[rb(12)]
                scheme = "https" if rb(2) else "http"
                dport = 443 if scheme == "https" else 80
                full = "%s://%s%s" % (scheme, h, upath)
            if inbound:
                src, dst = hv, intl[rb(12)]
                v6 = ":" in src
            method = METHODS[rb(3)]
            if ecs:
                out.append(ECS_HTTP % (ts, src, sport, dst, dport, full, full, h, method,
                                       STATUS[rb(16) % 12], ua[rb(8) % nua], "ipv6" if v6 else "ipv4",
                                       host[rb(12)]))
            else:
                out.append(EVE_HTTP % (ts, rb(51), src, sport, dst, dport, rb(4), cid[rb(12)], h, upath,
                                       ua[rb(8) % nua], method, STATUS[rb(16) % 12], rb(18)))
        elif kind == 3:  # tls
            h = hv if hk == "domain" else dom[rb(15)]
            if inbound:
                src, dst = hv, intl[rb(12)]
                v6 = ":" in src
            ver = TLS_VERSIONS[rb(16) % 3]
            if ecs:
                out.append(ECS_TLS % (ts, src, sport, dst, 443, h, ver[0], h, rb(128), rb(128),
                                      "ipv6" if v6 else "ipv4", host[rb(12)]))
            else:
                fp = "%040x" % rb(160)
                fp = ":".join(fp[k:k + 2] for k in range(0, 40, 2))
                out.append(EVE_TLS % (ts, rb(51), src, sport, dst, 443, cid[rb(12)], h, "%032X" % rb(128), fp, h,
                                      ver[1], rb(128), rb(128)))
        else:  # file
            m5 = hv if hk == "md5" else md5h(rb)
            s1 = hv if hk == "sha1" else sha1h(rb)
            s2 = hv if hk == "sha256" else sha256h(rb)
            ext_ = FILE_EXT[rb(3)]
            fn = "%s.%s" % (fname[rb(10)], ext_)
            size = rb(22)
            if ecs:
                user = USERS[rb(3)]
                out.append(ECS_FILE % (ts, fn, user, fn, ext_, size, m5, s1, s2, PROCS[rb(3)], 1000 + rb(15), user,
                                       host[rb(12)]))
            else:
                out.append(EVE_FILE % (ts, rb(51), src, sport, dst, 80, dom[rb(15)], fn, ua[rb(8) % nua], size,
                                       fn, m5, s1, s2, size))
    return "".join(out).encode("ascii"), nhit


G_POOLS = None
G_HITS = None
G_TMPDIR = [None]


def gen_chunk_file(task):
    data, nhit = gen_chunk(task)
    path = os.path.join(G_TMPDIR[0], "chunk-%d" % task[2])
    with open(path, "wb") as f:
        f.write(data)
    return path, len(data), nhit


def parse_args(argv):
    p = argparse.ArgumentParser(description="Synthetic ECS / Suricata EVE events for the enrichment benchmark.")
    p.add_argument("--format", choices=("ecs", "eve"), default="ecs")
    p.add_argument("-n", "--events", type=int, default=1000000, help="event lines to write (sentinel not counted)")
    p.add_argument("-o", "--out", default="-", help="output file ('-' = stdout)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--values", metavar="FILE", help="indicator values: 'type<TAB>value' or bare value lines")
    p.add_argument("--hit-rate", type=float, default=0.01, help="share of events carrying an indicator value")
    p.add_argument("--base-time", type=int, default=BASE_TIME, help="epoch of the first event")
    p.add_argument("--sentinel", action="store_true", help="append a final alert line (%s)" % SENTINEL_SIG)
    p.add_argument("--jq-table", metavar="FILE", help="write {value: 1, ...} of every indicator value")
    p.add_argument("--indicators-out", metavar="FILE", help="write every indicator value, one per line")
    p.add_argument("--jobs", type=int, default=0, help="worker processes (0 = CPUs); output is the same")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    if a.events < 0 or not 0 <= a.hit_rate <= 1:
        p.error("--events must be >= 0 and --hit-rate within 0..1")
    if a.hit_rate > 0 and a.events and not a.values:
        p.error("--hit-rate > 0 needs --values")
    return a


def main(argv):
    global G_POOLS, G_HITS
    a = parse_args(argv)
    gc.disable()  # loading a million values makes no cycles either
    t0 = time.monotonic()
    intel = Intel(a.values)
    if a.values and a.hit_rate > 0 and not intel.hits:
        print("gen_events: %s holds no usable IP/domain/URL/hash values" % a.values, file=sys.stderr)
        return 2
    if a.jq_table:
        with open(a.jq_table, "w", encoding="utf-8") as f:
            f.write(json.dumps(dict.fromkeys(intel.values, 1), separators=(",", ":")))
            f.write("\n")
    if a.indicators_out:
        with open(a.indicators_out, "w", encoding="utf-8") as f:
            f.write("".join(v + "\n" for v in intel.values))
    t1 = time.monotonic()
    G_POOLS = build_pools(a.seed, intel)
    G_HITS = intel.hits
    if a.format == "eve":
        # Suricata sees a URL only in plain HTTP (http.hostname + http.url):
        # an https:// URL indicator cannot appear in EVE, so EVE hits use the others.
        G_HITS = [h for h in intel.hits if h[0] != "url" or h[1].startswith("http://")]
    nvalues = len(intel.values)
    intel.values = None  # (the jq table and indicators are written)
    # Generation makes no reference cycles: without the collector, a million
    # intel objects are not rescanned again and again, and forked workers
    # share their pages instead of copying them.
    gc.collect()
    gc.freeze()
    gc.disable()
    t2 = time.monotonic()
    out = sys.stdout.buffer if a.out == "-" else open(a.out, "wb", buffering=1 << 22)
    base_ms = a.base_time * 1000
    tasks = [(a.format, a.seed, s, min(CHUNK, a.events - s), a.hit_rate, base_ms) for s in range(0, a.events, CHUNK)]
    jobs = a.jobs or (os.cpu_count() or 1)
    nhit = 0
    nbytes = 0
    if jobs > 1 and len(tasks) > 1:
        # Workers write their chunks to files; the chunks are appended in order
        # with sendfile (a pipe moves ~150 MB/s on the benchmark VM, too slow).
        tmpdir = tempfile.mkdtemp(prefix=".gen_events.", dir=os.path.dirname(os.path.abspath(a.out))
                                  if a.out != "-" else None)
        G_TMPDIR[0] = tmpdir
        ctx = multiprocessing.get_context("fork")
        try:
            with ctx.Pool(min(jobs, len(tasks))) as pool:
                for path, n, h in pool.imap(gen_chunk_file, tasks):
                    out.flush()
                    with open(path, "rb") as f:
                        off = 0
                        while off < n:
                            sent = os.sendfile(out.fileno(), f.fileno(), off, n - off)
                            if sent <= 0:
                                raise OSError("sendfile wrote nothing")
                            off += sent
                    os.unlink(path)
                    nbytes += n
                    nhit += h
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
    else:
        for task in tasks:
            text, h = gen_chunk(task)
            out.write(text)
            nbytes += len(text)
            nhit += h
    if a.sentinel:
        t = base_ms + a.events // 2 + 1
        out.write(((ECS_SENTINEL % ecs_time(t)) if a.format == "ecs" else (EVE_SENTINEL % eve_time(t))).encode())
    if out is sys.stdout.buffer:
        out.flush()
    else:
        out.close()
    t3 = time.monotonic()
    if not a.quiet:
        print("gen_events: %d %s events (%d with an indicator value, %.2f%%), %.1f MB, %.0f bytes/line%s; "
              "%d intel values, %d hit candidates; %.1f s (intel %.1f s, pools %.1f s, lines %.1f s = %.0f k lines/s)"
              % (a.events, a.format, nhit, 100.0 * nhit / max(a.events, 1), nbytes / 1e6, nbytes / max(a.events, 1),
                 " + sentinel" if a.sentinel else "", nvalues, len(G_HITS), t3 - t0, t1 - t0,
                 t2 - t1, t3 - t2, a.events / max(t3 - t2, 1e-9) / 1e3), file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)

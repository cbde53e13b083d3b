#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Synthetic MISP warninglists, sized like the largest upstream ones, for the
warninglist benchmarks (bench/bench_warninglists.sh, bench_enrich.sh with
WARNINGLISTS=1).

Writes a directory in the misp-warninglists checkout layout,
lists/<name>/list.json, one list per type, in the upstream JSON shape
(name, description, version, type, list, matching_attributes[, category]):

  top-hosts     hostname   --hosts entries (a top-1M domain list)
  hashes        string     --strings entries (known-file hash lists)
  cloud-v4      cidr       --cidr4 IPv4 networks (cloud provider ranges)
  cloud-v6      cidr       --cidr6 IPv6 networks
  vendors       substring  --substrings entries
  contacts      regex      --regexes patterns, category `known`

With --values FILE (type<TAB>value lines, gen_misp.py --values-out), a share
--overlap of the matching indicators is put on the lists too, so that some
indicators of the benchmark's store are on a list (suppressed or flagged).

Output depends only on the arguments (--seed). Standard library only.
"""

import argparse
import json
import os
import random


def write_list(root, name, typ, entries, attrs, category=None):
    d = os.path.join(root, "lists", name)
    os.makedirs(d, exist_ok=True)
    doc = {"description": "synthetic benchmark list", "list": entries, "matching_attributes": attrs,
           "name": "Benchmark list " + name, "type": typ, "version": 1}
    if category:
        doc["category"] = category
    with open(os.path.join(d, "list.json"), "w") as f:
        json.dump(doc, f, indent=1)
    return len(entries)


def label(r, n):
    return "".join(r.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out", required=True, help="directory to write (lists/<name>/list.json)")
    ap.add_argument("--hosts", type=int, default=1000000)
    ap.add_argument("--strings", type=int, default=200000)
    ap.add_argument("--cidr4", type=int, default=100000)
    ap.add_argument("--cidr6", type=int, default=50000)
    ap.add_argument("--substrings", type=int, default=5000)
    ap.add_argument("--regexes", type=int, default=20)
    ap.add_argument("--values", help="type<TAB>value file of the benchmark's indicators")
    ap.add_argument("--overlap", type=float, default=0.01, help="share of those put on the lists")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    r = random.Random(a.seed)

    hosts, strings, nets = [], [], []
    if a.values:
        with open(a.values) as f:
            for line in f:
                t, _, v = line.rstrip("\n").partition("\t")
                if r.random() >= a.overlap:
                    continue
                if t in ("domain", "hostname"):
                    hosts.append(v)
                elif t in ("md5", "sha1", "sha256"):
                    strings.append(v)
                elif t in ("ip-src", "ip-dst") and "/" not in v and ":" not in v:
                    nets.append(v + "/32")
    tlds = ["com", "net", "org", "io", "de", "ru", "cn", "info", "xyz", "co.uk"]
    hosts += ["%s.%s" % (label(r, r.randint(4, 14)), r.choice(tlds)) for _ in range(a.hosts - len(hosts))]
    strings += ["%064x" % r.getrandbits(256) for _ in range(a.strings - len(strings))]
    for _ in range(a.cidr4 - len(nets)):
        plen = r.choice((16, 20, 22, 24, 24, 24, 26, 28, 32))
        addr = r.getrandbits(32) & ((0xffffffff << (32 - plen)) & 0xffffffff)
        nets.append("%d.%d.%d.%d/%d" % (addr >> 24, addr >> 16 & 255, addr >> 8 & 255, addr & 255, plen))
    nets6 = []
    for _ in range(a.cidr6):
        plen = r.choice((32, 36, 40, 44, 48, 56, 64))
        addr = (0x2001 << 112 | r.getrandbits(112)) & ((1 << 128) - (1 << (128 - plen)))
        groups = ["%x" % (addr >> (112 - 16 * i) & 0xffff) for i in range(8)]
        nets6.append("%s/%d" % (":".join(groups), plen))
    subs = ["%s-%s" % (label(r, 5), label(r, 4)) for _ in range(a.substrings)]
    res = ["/^(%s|%s)@.*\\.%s$/i" % (label(r, 6), label(r, 5), r.choice(tlds)) for _ in range(a.regexes)]

    n = 0
    n += write_list(a.out, "top-hosts", "hostname", sorted(set(hosts)), ["domain", "hostname", "domain|ip", "url"])
    n += write_list(a.out, "hashes", "string", sorted(set(strings)), ["md5", "sha1", "sha256", "filename|md5",
                                                                       "filename|sha1", "filename|sha256"])
    n += write_list(a.out, "cloud-v4", "cidr", sorted(set(nets)), ["ip-src", "ip-dst", "domain|ip", "ip-dst|port"])
    n += write_list(a.out, "cloud-v6", "cidr", sorted(set(nets6)), ["ip-src", "ip-dst", "domain|ip"])
    n += write_list(a.out, "vendors", "substring", sorted(set(subs)), ["domain", "hostname", "url"])
    n += write_list(a.out, "contacts", "regex", res, ["email-src", "email-dst"], category="known")
    print("wrote %d entries in 6 lists under %s/lists" % (n, a.out))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Synthetic MISP data for iocbus benchmarks.

Writes MISP attributes in the shapes MISP itself emits, streaming, so that a
million attributes never sit in memory at once:

  restsearch  one POST /attributes/restSearch response body
              {"response": {"Attribute": [...]}} (docs/reference misp.md 3.3)
  events      a MISP feed directory: <event uuid>.json, manifest.json,
              hashes.csv (misp.md 5.1)
  zmq         one "misp_json_attribute {...}" frame per line (misp.md 1.5)

Output is a pure function of the arguments: the same --seed gives the same
bytes. Only the Python standard library is used.

Speed matters (a benchmark should not wait on its data), so every JSON
document is assembled from %-format templates. That is safe because every
generated value, name and tag is drawn from characters JSON does not escape;
the few strings that are not (galaxy tags with quotes, the deliberately
unicode/escaped comments) go through json.dumps once. --check parses the
output with json.loads and validates its shape.
"""

import argparse
import hashlib
import ipaddress
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid

BASE_TIME = 1729500000  # default "now" (2024-10-21), so output does not depend on the clock
TWO_YEARS = 2 * 365 * 86400

# (type, category, permille of all attributes, part generators)
# The mix: ~35% IP, ~25% domain/hostname, ~10% url, ~20% hashes,
# ~5% composite, ~5% other (including the non-indicators text/comment).
TYPE_MIX = [
    ("ip-dst", "Network activity", 210),
    ("ip-src", "Network activity", 140),
    ("domain", "Network activity", 150),
    ("hostname", "Network activity", 100),
    ("url", "Network activity", 100),
    ("md5", "Payload delivery", 70),
    ("sha1", "Payload delivery", 50),
    ("sha256", "Payload delivery", 80),
    ("domain|ip", "Network activity", 20),
    ("ip-dst|port", "Network activity", 20),
    ("filename|sha256", "Payload delivery", 10),
    ("email-src", "Payload delivery", 8),
    ("ja3-fingerprint-md5", "Network activity", 7),
    ("x509-fingerprint-sha1", "Network activity", 7),
    ("user-agent", "Network activity", 7),
    ("AS", "Network activity", 7),
    ("text", "Other", 7),
    ("comment", "Other", 7),
]
NON_INDICATORS = ("text", "comment")

# Object templates for attributes that belong to an object:
# type -> (template name, meta-category, description, template uuid, version, relation)
OBJECT_TEMPLATES = {
    "ip-dst": ("network-connection", "network", "A local or remote network connection.",
               "af16764b-f8e5-4603-9de1-de34d272f80b", "2", "ip-dst"),
    "ip-src": ("network-connection", "network", "A local or remote network connection.",
               "af16764b-f8e5-4603-9de1-de34d272f80b", "2", "ip-src"),
    "domain": ("domain-ip", "network", "A domain/hostname and IP address seen as a tuple.",
               "43b3b146-77eb-4931-b4cc-b66c60f28734", "10", "domain"),
    "hostname": ("domain-ip", "network", "A domain/hostname and IP address seen as a tuple.",
                 "43b3b146-77eb-4931-b4cc-b66c60f28734", "10", "hostname"),
    "url": ("url", "network", "url object describes an url along with its normalized field.",
            "60efb77b-40b5-4c46-871b-ed1ed999fce5", "9", "url"),
    "md5": ("file", "file", "File object describing a file with meta-information",
            "688c46fb-5edb-40a3-8273-1af7923e2215", "24", "md5"),
    "sha1": ("file", "file", "File object describing a file with meta-information",
             "688c46fb-5edb-40a3-8273-1af7923e2215", "24", "sha1"),
    "sha256": ("file", "file", "File object describing a file with meta-information",
               "688c46fb-5edb-40a3-8273-1af7923e2215", "24", "sha256"),
}

# Tag pool: (id, name, colour, weight for attribute tags).
TAG_POOL = [
    (1, "tlp:white", "#ffffff", 2),
    (2, "tlp:green", "#339900", 5),
    (3, "tlp:amber", "#FFC000", 6),
    (4, "tlp:red", "#CC0033", 2),
    (5, "tlp:clear", "#ffffff", 1),
    (6, "tlp:amber+strict", "#FFC000", 1),
    (12, "Feed-abuse.ch", "#2c6f8a", 3),
    (13, "type:OSINT", "#004646", 3),
    (14, "osint:source-type=\"blog-post\"", "#00223b", 2),
    (27, "misp-galaxy:threat-actor=\"Sofacy\"", "#0088cc", 1),
    (28, "misp-galaxy:mitre-attack-pattern=\"Phishing - T1566\"", "#0088cc", 1),
    (29, "circl:incident-classification=\"malware\"", "#3d7a00", 2),
    (30, "admiralty-scale:source-reliability=\"b\"", "#0a3a5c", 1),
    (31, "workflow:state=\"draft\"", "#ffffff", 1),
    (32, "kill-chain:Command and Control", "#ff0000", 2),
    (33, "ecsirt:malicious-code=\"ransomware\"", "#0a3a5c", 1),
]
TLP_TAGS = [0, 1, 2, 3]  # indexes into TAG_POOL for the event's TLP
LOCAL_TAG = 31           # workflow tags are local in MISP

COMMENTS = [
    "C2 server", "scanning range", "phishing landing page", "dropper", "second stage payload",
    "Imported via the Freetext Import Tool", "sinkholed", "seen in sandbox run", "beacon",
    "exfiltration endpoint",
]
# Comments that need JSON escaping (unicode, quotes, backslashes, control
# characters), used for a small fraction of attributes.
ODD_COMMENTS = [
    "Beobachtet in Kampagne \u201eHerbst\u201c \u2014 na\u00efve loader",
    "path C:\\Users\\Public\\evil.exe \"quoted\"",
    "multi\nline\tcomment",
    "\u6076\u610f\u8f6f\u4ef6 \U0001f40d snake",
    "emoji \u2620 and </script> tag",
]
SYLLABLES = ["ka", "lo", "mi", "zu", "re", "ta", "vo", "ne", "xi", "pa", "do", "qu", "fe", "shi", "ran",
             "bel", "cor", "dex", "fin", "gor", "hal", "jin", "kor", "lum", "mor", "nix", "oba", "pix",
             "quo", "rix", "sol", "tur"]
TLDS = ["com", "net", "org", "info", "ru", "cn", "xyz", "top", "io", "biz", "online", "site", "club", "de"]
HOST_PREFIX = ["www", "mail", "cdn", "api", "update", "login", "secure", "ns1", "vpn", "dl"]
URL_PATHS = ["index.php", "gate.php", "admin/login", "wp-content/uploads/x.zip", "download", "api/v1/beacon",
             "panel/config.bin", "invoice.doc", "track", "static/js/app.js"]
FILE_EXT = ["exe", "dll", "doc", "xls", "zip", "js", "ps1", "bin", "scr", "lnk"]
ORG_COUNT = 40
LOCAL_ORG = 1  # the instance's own org: Event.org_id for most events

RS_ATTR = ('{"id":"%d","event_id":"%d","object_id":"%d","object_relation":%s,"category":"%s",'
           '"type":"%s","to_ids":%s,"uuid":"%s","timestamp":"%d","distribution":"%s",'
           '"sharing_group_id":"0","comment":%s,"deleted":false,"disable_correlation":false,'
           '"first_seen":%s,"last_seen":%s,"value":"%s","Event":%s%s%s}')
ZMQ_ATTR = ('misp_json_attribute {"Attribute":{"id":"%d","event_id":"%d","object_id":"%d",'
            '"object_relation":%s,"category":"%s","type":"%s","value1":"%s","value2":"%s","to_ids":%s,'
            '"uuid":"%s","timestamp":"%d","distribution":"%s","sharing_group_id":"0","comment":%s,'
            '"deleted":false,"disable_correlation":false,"first_seen":%s,"last_seen":%s,"value":"%s"%s,'
            '"Sighting":[]},"Event":%s%s,"action":"add"}\n')
FEED_ATTR = ('{"uuid":"%s","type":"%s","category":"%s","value":"%s","to_ids":%s,"comment":%s,'
             '"timestamp":"%d","disable_correlation":false%s%s}')

RS_KEYS = ["id", "event_id", "object_id", "object_relation", "category", "type", "to_ids", "uuid", "timestamp",
           "distribution", "sharing_group_id", "comment", "deleted", "disable_correlation", "first_seen",
           "last_seen", "value"]
RS_EVENT_KEYS = ["org_id", "distribution", "publish_timestamp", "id", "info", "orgc_id", "uuid"]
ZMQ_KEYS = ["id", "event_id", "object_id", "object_relation", "category", "type", "value1", "value2", "to_ids",
            "uuid", "timestamp", "distribution", "sharing_group_id", "comment", "deleted", "disable_correlation",
            "first_seen", "last_seen", "value"]
ZMQ_EVENT_KEYS = ["id", "date", "info", "uuid", "published", "analysis", "threat_level_id", "org_id", "orgc_id",
                  "distribution", "sharing_group_id", "Orgc"]

UUID_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
UUID_SET = (0x8000 << 48) | (0x4000 << 64)


def js(s):
    """JSON text of a string that may need escaping."""
    return json.dumps(s)


def iso_us(epoch):
    """MISP's first_seen/last_seen form (microTimestampToIso)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime(epoch))


class Gen:
    """All generator state. Attributes are produced event by event."""

    def __init__(self, args):
        self.a = args
        self.rng = random.Random(args.seed)
        # Separate streams so that optional outputs never change the main one.
        self.sample_rng = random.Random(args.seed * 7919 + 1)
        r = self.rng
        self.t0 = args.base_time
        self.type_table = []
        for idx, (name, cat, permille) in enumerate(TYPE_MIX):
            self.type_table.extend([idx] * permille)
        assert len(self.type_table) == 1000
        self.gens = {
            "ip-dst": self.v_ip, "ip-src": self.v_ip, "domain": self.v_domain, "hostname": self.v_hostname,
            "url": self.v_url, "md5": self.v_md5, "sha1": self.v_sha1, "sha256": self.v_sha256,
            "domain|ip": self.v_domain_ip, "ip-dst|port": self.v_ip_port, "filename|sha256": self.v_file_sha256,
            "email-src": self.v_email, "ja3-fingerprint-md5": self.v_md5, "x509-fingerprint-sha1": self.v_sha1,
            "user-agent": self.v_ua, "AS": self.v_as, "text": self.v_text, "comment": self.v_text,
        }
        self.seq = 0       # feeds every unique value
        self.ip_seq = 0    # IPv4 counter, scrambled by an odd multiplier: unique addresses
        self.ip_mul = (r.getrandbits(31) << 1) | 1
        self.ip_add = r.getrandbits(32)
        self.orgs = []
        for i in range(1, ORG_COUNT + 1):
            name = "LOCAL-ORG" if i == LOCAL_ORG else "SYNTH-CERT-%02d" % i
            self.orgs.append((i, name, self.uuid4()))
        weights = [t[3] for t in TAG_POOL]
        self.tag_table = []
        for i, w in enumerate(weights):
            self.tag_table.extend([i] * w)
        # Pre-rendered tag JSON per output shape.
        self.tag_rs = ['{"id":"%d","name":%s,"colour":"%s","numerical_value":null,"is_galaxy":%s,"local":%s}'
                       % (t[0], js(t[1]), t[2], "true" if t[1].startswith("misp-galaxy:") else "false",
                          "true" if i == LOCAL_TAG else "false") for i, t in enumerate(TAG_POOL)]
        self.tag_rs_inh = ['{"id":"%d","name":%s,"colour":"%s","numerical_value":null,"inherited":1}'
                           % (t[0], js(t[1]), t[2]) for t in TAG_POOL]
        self.tag_zmq = ['{"id":"%d","name":%s,"colour":"%s","exportable":true,"local":%s}'
                        % (t[0], js(t[1]), t[2], "true" if i == LOCAL_TAG else "false")
                        for i, t in enumerate(TAG_POOL)]
        self.tag_feed = ['{"colour":"%s","local":%s,"name":%s,"relationship_type":""}'
                         % (t[2], "true" if i == LOCAL_TAG else "false", js(t[1]))
                         for i, t in enumerate(TAG_POOL)]
        self.comments = [js(c) for c in COMMENTS]
        self.dup_ring = [None] * 8192
        self.stats = {"attributes": 0, "events": 0, "cidr": 0, "ipv6": 0, "to_ids_false": 0, "dup": 0,
                      "tagged": 0, "in_object": 0, "odd_comment": 0}
        self.type_counts = {}

    # ------------------------------------------------------------ values

    def uuid4(self):
        """Same text as str(uuid.UUID(int=getrandbits(128), version=4)), faster."""
        h = "%032x" % ((self.rng.getrandbits(128) & UUID_CLEAR) | UUID_SET)
        return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])

    def label(self):
        self.seq += 1
        r = self.rng
        return "%s%s%s%x" % (SYLLABLES[r.getrandbits(5)], SYLLABLES[r.getrandbits(5)],
                             SYLLABLES[r.getrandbits(5)], self.seq)

    def ipv4_int(self):
        while True:
            self.ip_seq += 1
            x = (self.ip_seq * self.ip_mul + self.ip_add) & 0xFFFFFFFF
            first = x >> 24
            if first not in (0, 10, 127) and first < 224:
                return x

    def ipv4(self):
        x = self.ipv4_int()
        return "%d.%d.%d.%d" % (x >> 24, (x >> 16) & 255, (x >> 8) & 255, x & 255)

    def v_ip(self):
        r = self.rng
        if r.random() < self.a.ipv6_fraction:
            self.stats["ipv6"] += 1
            x = (0x2 << 124) | r.getrandbits(124)  # global unicast 2000::/4
            if r.random() < self.a.cidr_fraction:
                self.stats["cidr"] += 1
                plen = r.choice((32, 36, 40, 44, 48, 48, 48, 56, 64, 64))
                return str(ipaddress.IPv6Network((x >> (128 - plen) << (128 - plen), plen)))
            return ipaddress.IPv6Address(x).compressed
        if r.random() < self.a.cidr_fraction:
            self.stats["cidr"] += 1
            plen = 8 + int(23 * r.random() ** 0.5)  # /8../30, longer prefixes more common
            x = self.ipv4_int() >> (32 - plen) << (32 - plen)
            return "%d.%d.%d.%d/%d" % (x >> 24, (x >> 16) & 255, (x >> 8) & 255, x & 255, plen)
        return self.ipv4()

    def v_domain(self):
        return "%s.%s" % (self.label(), TLDS[self.rng.randrange(len(TLDS))])

    def v_hostname(self):
        return "%s.%s" % (HOST_PREFIX[self.rng.randrange(len(HOST_PREFIX))], self.v_domain())

    def v_url(self):
        r = self.rng
        scheme = "https" if r.random() < 0.6 else "http"
        host = self.v_domain() if r.random() < 0.8 else self.ipv4()
        path = URL_PATHS[r.randrange(len(URL_PATHS))]
        if r.random() < 0.3:
            return "%s://%s/%s?id=%x" % (scheme, host, path, r.getrandbits(32))
        return "%s://%s/%s" % (scheme, host, path)

    def v_md5(self):
        return "%032x" % self.rng.getrandbits(128)

    def v_sha1(self):
        return "%040x" % self.rng.getrandbits(160)

    def v_sha256(self):
        return "%064x" % self.rng.getrandbits(256)

    def v_domain_ip(self):
        return "%s|%s" % (self.v_domain(), self.ipv4())

    def v_ip_port(self):
        return "%s|%d" % (self.ipv4(), self.rng.choice((80, 443, 8080, 8443, 4444, 53, 22, 3389, 1337)))

    def v_file_sha256(self):
        self.seq += 1
        return "%s%x.%s|%s" % (SYLLABLES[self.rng.getrandbits(5)], self.seq,
                               FILE_EXT[self.rng.randrange(len(FILE_EXT))], self.v_sha256())

    def v_email(self):
        self.seq += 1
        return "%s%x@%s" % (SYLLABLES[self.rng.getrandbits(5)], self.seq, self.v_domain())

    def v_ua(self):
        self.seq += 1
        return ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/%d.0.%d.%d Safari/537.36" % (90 + self.seq % 40, self.seq // 40 % 9000, self.seq % 200))

    def v_as(self):
        self.seq += 1
        n = 1 + (self.seq * 2654435761) % 4199999999
        return "AS%d" % n if self.rng.random() < 0.5 else str(n)

    def v_text(self):
        self.seq += 1
        return "Synthetic analyst note %d" % self.seq

    # ------------------------------------------------------------ events

    def event_sizes(self):
        """Attributes per event: heavy-tailed, at least 1 each, summing to N."""
        n, m = self.a.attributes, self.a.events
        r = self.rng
        w = [min(r.paretovariate(1.3), 500.0) for _ in range(m)]
        total = sum(w)
        extra = n - m
        sizes = [1 + int(x / total * extra) for x in w]
        left = n - sum(sizes)
        while left > 0:
            sizes[r.randrange(m)] += 1
            left -= 1
        return sizes

    def make_event(self, eid):
        r = self.rng
        ts = self.t0 - r.randrange(TWO_YEARS)
        k = int(r.random() ** 2.5 * ORG_COUNT)  # a few orgs create most events
        orgc = self.orgs[k]
        org_id = LOCAL_ORG if r.random() < 0.7 else orgc[0]
        tags = [TLP_TAGS[r.randrange(4)]]
        if r.random() < 0.5:
            t = self.tag_table[r.randrange(len(self.tag_table))]
            if t not in tags and t not in TLP_TAGS:
                tags.append(t)
        ev = {
            "id": eid, "uuid": self.uuid4(), "ts": ts, "pub_ts": ts + r.randrange(3600),
            "date": time.strftime("%Y-%m-%d", time.gmtime(ts)),
            "info": "Synthetic event %d: %s campaign" % (eid, SYLLABLES[r.getrandbits(5)]),
            "orgc": orgc, "org_id": org_id, "dist": str(r.randrange(4)),
            "tlevel": str(1 + r.randrange(4)), "analysis": str(r.randrange(3)), "tags": tags,
        }
        return ev

    def make_attr(self, ev, aid, objects):
        """One attribute as a tuple; objects collects this event's objects."""
        r = self.rng
        a = self.a
        st = self.stats
        dup = None
        if r.random() < a.dup_fraction:
            dup = self.dup_ring[r.randrange(len(self.dup_ring))]
            if dup is not None and dup[0] == ev["id"]:
                dup = None
        if dup is not None:
            st["dup"] += 1
            tidx, value = dup[1], dup[2]
        else:
            tidx = self.type_table[int(r.random() * 1000)]
            value = self.gens[TYPE_MIX[tidx][0]]()
            self.dup_ring[aid & 8191] = (ev["id"], tidx, value)
        tname, cat = TYPE_MIX[tidx][0], TYPE_MIX[tidx][1]
        self.type_counts[tname] = self.type_counts.get(tname, 0) + 1
        to_ids = tname not in NON_INDICATORS and r.random() >= a.no_ids_indicator
        if not to_ids:
            st["to_ids_false"] += 1
        ts = ev["ts"] - r.randrange(30 * 86400)
        x = r.random()
        if x < 0.8:
            comment = '""'
        elif x < 1.0 - a.odd_comment_fraction:
            comment = self.comments[r.randrange(len(self.comments))]
        else:
            st["odd_comment"] += 1
            s = ODD_COMMENTS[r.randrange(len(ODD_COMMENTS))]
            comment = json.dumps(s, ensure_ascii=r.random() < 0.5)
        if r.random() < 0.05:
            fs = '"%s"' % iso_us(ts - 86400 * (1 + r.randrange(60)))
            ls = '"%s"' % iso_us(ts)
        else:
            fs = ls = "null"
        tags = ()
        if r.random() < a.tagged_fraction:
            st["tagged"] += 1
            t1 = self.tag_table[r.randrange(len(self.tag_table))]
            tags = (t1,)
            if r.random() < 0.3:
                t2 = self.tag_table[r.randrange(len(self.tag_table))]
                if t2 != t1:
                    tags = (t1, t2)
        obj = None
        tmpl = OBJECT_TEMPLATES.get(tname)
        if tmpl is not None and r.random() < a.object_fraction:
            st["in_object"] += 1
            obj = objects.get(tmpl[0])
            if obj is None or r.random() < 0.3:
                self.object_seq += 1
                obj = {"id": self.object_seq, "tmpl": tmpl, "uuid": self.uuid4(), "ts": ts, "attrs": []}
                objects[tmpl[0]] = obj
                objects.setdefault("_all", []).append(obj)
            relation = '"%s"' % tmpl[5]
        else:
            relation = "null"
        dist = "5" if r.random() < 0.9 else str(r.randrange(4))
        return (aid, obj, relation, cat, tname, to_ids, self.uuid4(), ts, dist, comment, fs, ls, value, tags)

    # ------------------------------------------------------------ shapes

    def rs_event(self, ev):
        return ('{"org_id":"%d","distribution":"%s","publish_timestamp":"%d","id":"%d","info":"%s",'
                '"orgc_id":"%d","uuid":"%s"}' % (ev["org_id"], ev["dist"], ev["pub_ts"], ev["id"], ev["info"],
                                                 ev["orgc"][0], ev["uuid"]))

    def zmq_event(self, ev):
        o = ev["orgc"]
        return ('{"id":"%d","date":"%s","info":"%s","uuid":"%s","published":false,"analysis":"%s",'
                '"threat_level_id":"%s","org_id":"%d","orgc_id":"%d","distribution":"%s","sharing_group_id":"0",'
                '"Orgc":{"id":"%d","uuid":"%s","name":"%s"}}'
                % (ev["id"], ev["date"], ev["info"], ev["uuid"], ev["analysis"], ev["tlevel"], ev["org_id"], o[0],
                   ev["dist"], o[0], o[2], o[1]))

    def rs_line(self, ev, ev_json, at, inherited):
        (aid, obj, relation, cat, tname, to_ids, uid, ts, dist, comment, fs, ls, value, tags) = at
        if obj is not None:
            objpart = ',"Object":{"id":"%d","distribution":"5","sharing_group_id":"0"}' % obj["id"]
        else:
            objpart = ""
        tl = [self.tag_rs[t] for t in tags]
        if inherited:
            tl.extend(self.tag_rs_inh[t] for t in ev["tags"])
        tagpart = ',"Tag":[%s]' % ",".join(tl) if tl else ""
        return RS_ATTR % (aid, ev["id"], obj["id"] if obj else 0, relation, cat, tname,
                          "true" if to_ids else "false", uid, ts, dist, comment, fs, ls, value, ev_json,
                          objpart, tagpart)

    def zmq_line(self, ev, ev_json, at):
        (aid, obj, relation, cat, tname, to_ids, uid, ts, dist, comment, fs, ls, value, tags) = at
        if "|" in tname:
            v1, _, v2 = value.partition("|")
        else:
            v1, v2 = value, ""
        tagpart = ',"Tag":[%s]' % ",".join(self.tag_zmq[t] for t in tags) if tags else ""
        if obj is not None:
            t = obj["tmpl"]
            objpart = (',"Object":{"id":"%d","name":"%s","meta-category":"%s","description":"%s",'
                       '"template_uuid":"%s","template_version":"%s","event_id":"%d","uuid":"%s",'
                       '"timestamp":"%d","distribution":"5","sharing_group_id":"0","comment":"","deleted":false,'
                       '"first_seen":null,"last_seen":null}'
                       % (obj["id"], t[0], t[1], t[2], t[3], t[4], ev["id"], obj["uuid"], obj["ts"]))
        else:
            objpart = ""
        return ZMQ_ATTR % (aid, ev["id"], obj["id"] if obj else 0, relation, cat, tname, v1, v2,
                           "true" if to_ids else "false", uid, ts, dist, comment, fs, ls, value, tagpart, ev_json,
                           objpart)

    def feed_attr(self, at):
        (aid, obj, relation, cat, tname, to_ids, uid, ts, dist, comment, fs, ls, value, tags) = at
        extra = ""
        if obj is not None:
            extra += ',"object_relation":%s' % relation
        if fs != "null":
            extra += ',"first_seen":%s,"last_seen":%s' % (fs, ls)
        tagpart = ',"Tag":[%s]' % ",".join(self.tag_feed[t] for t in tags) if tags else ""
        return FEED_ATTR % (uid, tname, cat, value, "true" if to_ids else "false", comment, ts, extra, tagpart)

    def feed_event(self, ev, attrs, objects):
        o = ev["orgc"]
        parts = ['{"Event":{"uuid":"%s","info":"%s","date":"%s","threat_level_id":"%s","analysis":"%s",'
                 '"timestamp":"%d","publish_timestamp":"%d","published":true,"Orgc":{"name":"%s","uuid":"%s"},'
                 '"Tag":[%s],"Attribute":['
                 % (ev["uuid"], ev["info"], ev["date"], ev["tlevel"], ev["analysis"], ev["ts"], ev["pub_ts"],
                    o[1], o[2], ",".join(self.tag_feed[t] for t in ev["tags"])),
                 ",".join(self.feed_attr(at) for at in attrs if at[1] is None), "]"]
        objs = objects.get("_all")
        if objs:
            ol = []
            for obj in objs:
                t = obj["tmpl"]
                ol.append('{"name":"%s","meta-category":"%s","description":"%s","template_uuid":"%s",'
                          '"template_version":"%s","uuid":"%s","timestamp":"%d","distribution":"5",'
                          '"sharing_group_id":"0","comment":"","deleted":false,"Attribute":[%s]}'
                          % (t[0], t[1], t[2], t[3], t[4], obj["uuid"], obj["ts"],
                             ",".join(self.feed_attr(at) for at in obj["attrs"])))
            parts.append(',"Object":[%s]' % ",".join(ol))
        parts.append("}}\n")
        return "".join(parts)

    def manifest_entry(self, ev):
        o = ev["orgc"]
        return ('"%s":{"Orgc":{"name":"%s","uuid":"%s"},"Tag":[%s],"info":"%s","date":"%s","analysis":"%s",'
                '"threat_level_id":"%s","timestamp":"%d"}'
                % (ev["uuid"], o[1], o[2], ",".join(self.tag_feed[t] for t in ev["tags"]), ev["info"],
                   ev["date"], ev["analysis"], ev["tlevel"], ev["ts"]))

    # ------------------------------------------------------------ run

    def run(self):
        a = self.a
        fmt = a.format
        inherited = a.include_event_tags
        self.object_seq = 0
        sizes = self.event_sizes()
        out = None
        if a.out and fmt != "events":
            out = sys.stdout if a.out == "-" else open(a.out, "w", encoding="utf-8", buffering=1 << 20)
        manifest = hashes = None
        if a.out and fmt == "events":
            os.makedirs(a.out, exist_ok=True)
            manifest = open(os.path.join(a.out, "manifest.json"), "w", encoding="utf-8", buffering=1 << 20)
            hashes = open(os.path.join(a.out, "hashes.csv"), "w", encoding="utf-8", buffering=1 << 20)
            manifest.write("{")
        values = None
        want_values = 0
        if a.values_out:
            values = open(a.values_out, "w", encoding="utf-8", buffering=1 << 20)
            want_values = min(a.values_count, a.attributes)
        remaining = a.attributes
        if out is not None and fmt == "restsearch":
            out.write('{"response": {"Attribute": [')
        buf = []
        first = True
        aid = 0
        for ei, size in enumerate(sizes):
            ev = self.make_event(ei + 1)
            self.stats["events"] += 1
            ev_json = self.rs_event(ev) if fmt == "restsearch" else self.zmq_event(ev) if fmt == "zmq" else None
            objects = {}
            attrs = []
            for _ in range(size):
                aid += 1
                at = self.make_attr(ev, aid, objects)
                if values is not None:
                    # Selection sampling (Knuth's algorithm S): exactly want_values lines, streaming.
                    if self.sample_rng.random() * remaining < want_values:
                        values.write("%s\t%s\n" % (at[4], at[12]))
                        want_values -= 1
                    remaining -= 1
                if fmt == "restsearch":
                    if out is not None:
                        if first:
                            first = False
                        else:
                            buf.append(",")
                        buf.append(self.rs_line(ev, ev_json, at, inherited))
                elif fmt == "zmq":
                    if out is not None:
                        buf.append(self.zmq_line(ev, ev_json, at))
                else:
                    if at[1] is not None:
                        at[1]["attrs"].append(at)
                    attrs.append(at)
            self.stats["attributes"] += size
            if fmt == "events" and manifest is not None:
                with open(os.path.join(a.out, ev["uuid"] + ".json"), "w", encoding="utf-8") as f:
                    f.write(self.feed_event(ev, attrs, objects))
                manifest.write("%s%s" % ("" if ei == 0 else ",\n", self.manifest_entry(ev)))
                for at in attrs:
                    for part in at[12].split("|") if "|" in at[4] else (at[12],):
                        hashes.write("%s,%s\n" % (hashlib.md5(part.encode()).hexdigest(), ev["uuid"]))
            if len(buf) > 4096:
                out.write("".join(buf))
                buf.clear()
        if out is not None:
            out.write("".join(buf))
            if fmt == "restsearch":
                out.write("]}}\n")
            if out is not sys.stdout:
                out.close()
            else:
                out.flush()
        if manifest is not None:
            manifest.write("}\n")
            manifest.close()
            hashes.close()
        if values is not None:
            values.close()


def gen_cidrs(path, n, seed, v6_fraction):
    """n distinct random CIDR prefixes (host bits zero), one per line."""
    rng = random.Random(seed * 104729 + 3)
    seen = set()
    with open(path, "w", encoding="ascii", buffering=1 << 20) as f:
        buf = []
        while len(seen) < n:
            if rng.random() < v6_fraction:
                plen = rng.choice((29, 32, 32, 36, 40, 44, 48, 48, 48, 52, 56, 56, 60, 64, 64, 64, 128))
                x = ((0x2 << 124) | rng.getrandbits(124)) >> (128 - plen) << (128 - plen)
                key = (6, x, plen)
                text = str(ipaddress.IPv6Network((x, plen)))
            else:
                plen = 8 + int(24 * rng.random() ** 0.4)  # /8../32, mostly /16 and longer
                x = rng.getrandbits(32) >> (32 - plen) << (32 - plen)
                if x >> 24 in (0, 127) or x >> 24 >= 224:
                    continue
                key = (4, x, plen)
                text = "%d.%d.%d.%d/%d" % (x >> 24, (x >> 16) & 255, (x >> 8) & 255, x & 255, plen)
            if key in seen:
                continue
            seen.add(key)
            buf.append(text)
            buf.append("\n")
            if len(buf) > 8192:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))


# ---------------------------------------------------------------- check

def fail(msg):
    raise SystemExit("gen_misp --check: FAIL: " + msg)


def is_uint_str(v):
    return isinstance(v, str) and v.isdigit() and (v == "0" or v[0] != "0")


def check_tag(t, keys):
    if list(t.keys()) != keys:
        fail("tag keys %r, expected %r" % (list(t.keys()), keys))
    if not isinstance(t["name"], str) or not t["name"]:
        fail("tag without a name")


def check_attr_common(at, keys, known_types):
    if list(at.keys())[:len(keys)] != keys:
        fail("attribute keys %r, expected prefix %r" % (list(at.keys()), keys))
    for k in ("id", "event_id", "object_id", "timestamp", "distribution", "sharing_group_id"):
        if not is_uint_str(at[k]):
            fail("%s is not an integer string: %r" % (k, at[k]))
    for k in ("to_ids", "deleted", "disable_correlation"):
        if not isinstance(at[k], bool):
            fail("%s is not a boolean" % k)
    u = uuid.UUID(at["uuid"])
    if u.version != 4 or str(u) != at["uuid"]:
        fail("bad uuid %r" % at["uuid"])
    if at["type"] not in known_types:
        fail("unknown type %r" % at["type"])
    if ("|" in at["type"]) != ("|" in at["value"]):
        fail("composite mismatch: %r %r" % (at["type"], at["value"]))
    if (at["object_id"] == "0") != (at["object_relation"] is None):
        fail("object_id/object_relation mismatch")
    if "Tag" in at and not at["Tag"]:
        fail("empty Tag list present")
    if at["type"] in NON_INDICATORS and at["to_ids"]:
        fail("non-indicator with to_ids")
    for k in ("first_seen", "last_seen"):
        if at[k] is not None and not at[k].endswith(".000000+00:00"):
            fail("bad %s %r" % (k, at[k]))


def run_gen(argv):
    args = parse_args(argv)
    g = Gen(args)
    g.run()
    return g


def check(tmp):
    known = {t[0] for t in TYPE_MIX}
    n, m = 1000, 100
    common = ["--attributes", str(n), "--events", str(m), "--seed", "42", "--cidr-fraction", "0.2",
              "--odd-comment-fraction", "0.05", "--object-fraction", "0.2", "--quiet"]

    # uuid4() must give what uuid.UUID(int=..., version=4) gives.
    r1, r2 = random.Random(5), random.Random(5)
    gen = Gen(parse_args(["--quiet"]))
    gen.rng = r1
    for _ in range(200):
        if gen.uuid4() != str(uuid.UUID(int=r2.getrandbits(128), version=4)):
            fail("uuid4() differs from uuid.UUID(version=4)")

    # restSearch, plain and with inherited event tags.
    rs = os.path.join(tmp, "rs.json")
    vals = os.path.join(tmp, "values.tsv")
    g = run_gen(common + ["--out", rs, "--values-out", vals, "--values-count", "100"])
    raw = open(rs, encoding="utf-8").read()
    if not raw.startswith('{"response": {"Attribute": [{"id":"1",') or not raw.endswith("]}}\n"):
        fail("restSearch framing")
    doc = json.loads(raw)
    if list(doc.keys()) != ["response"] or list(doc["response"].keys()) != ["Attribute"]:
        fail("restSearch top level")
    attrs = doc["response"]["Attribute"]
    if len(attrs) != n:
        fail("%d attributes, expected %d" % (len(attrs), n))
    uuids = set()
    events = set()
    values = set()
    saw = {"Tag": 0, "Object": 0, "cidr": 0, "v6": 0, "nonascii": 0, "false": 0}
    for at in attrs:
        check_attr_common(at, RS_KEYS, known)
        rest = list(at.keys())[len(RS_KEYS):]
        if rest not in (["Event"], ["Event", "Object"], ["Event", "Tag"], ["Event", "Object", "Tag"]):
            fail("keys after value: %r" % rest)
        if list(at["Event"].keys()) != RS_EVENT_KEYS:
            fail("Event keys %r" % list(at["Event"].keys()))
        for k in ("org_id", "distribution", "publish_timestamp", "id", "orgc_id"):
            if not is_uint_str(at["Event"][k]):
                fail("Event.%s not an integer string" % k)
        if at["Event"]["id"] != at["event_id"]:
            fail("event_id differs from Event.id")
        if "Object" in at:
            saw["Object"] += 1
            if list(at["Object"].keys()) != ["id", "distribution", "sharing_group_id"] or \
                    at["Object"]["id"] != at["object_id"]:
                fail("Object shape")
        for t in at.get("Tag", ()):
            saw["Tag"] += 1
            check_tag(t, ["id", "name", "colour", "numerical_value", "is_galaxy", "local"])
        if at["type"] in ("ip-src", "ip-dst"):
            net = ipaddress.ip_network(at["value"], strict=True)
            saw["cidr"] += "/" in at["value"]
            saw["v6"] += net.version == 6
        if any(ord(c) > 127 for c in at["comment"]) or "\\" in at["comment"]:
            saw["nonascii"] += 1
        saw["false"] += not at["to_ids"]
        uuids.add(at["uuid"])
        events.add(at["event_id"])
        values.add((at["type"], at["value"]))
    if len(uuids) != n:
        fail("duplicate attribute uuids")
    if len(events) != m:
        fail("%d events, expected %d" % (len(events), m))
    for k, v in saw.items():
        if v == 0:
            fail("no attribute exercised %s" % k)
    lines = open(vals, encoding="utf-8").read().splitlines()
    if len(lines) != 100:
        fail("values-out has %d lines" % len(lines))
    for ln in lines:
        t, _, v = ln.partition("\t")
        if (t, v) not in values:
            fail("values-out line not in the output: %r" % ln)

    # Same seed, same bytes; a different seed differs.
    rs2 = os.path.join(tmp, "rs2.json")
    run_gen(common + ["--out", rs2])
    if open(rs2, "rb").read() != raw.encode("utf-8"):
        fail("output is not deterministic")
    run_gen([x if x != "42" else "43" for x in common] + ["--out", rs2])
    if open(rs2, "rb").read() == raw.encode("utf-8"):
        fail("--seed has no effect")

    rsi = os.path.join(tmp, "rsi.json")
    run_gen(common + ["--out", rsi, "--include-event-tags"])
    inh = 0
    for at in json.load(open(rsi, encoding="utf-8"))["response"]["Attribute"]:
        if "Tag" not in at:
            fail("includeEventTags: attribute without Tag (every event has a TLP tag)")
        for t in at["Tag"]:
            if "inherited" in t:
                check_tag(t, ["id", "name", "colour", "numerical_value", "inherited"])
                inh += 1
    if not inh:
        fail("no inherited tags")

    # ZMQ frames.
    zq = os.path.join(tmp, "frames.txt")
    run_gen(common + ["--format", "zmq", "--out", zq])
    nz = 0
    with open(zq, encoding="utf-8") as f:
        for line in f:
            topic, sp, body = line.partition(" ")
            if topic != "misp_json_attribute" or not sp:
                fail("zmq topic %r" % topic)
            d = json.loads(body)
            if list(d.keys()) not in (["Attribute", "Event", "action"], ["Attribute", "Event", "Object", "action"]):
                fail("zmq keys %r" % list(d.keys()))
            at = d["Attribute"]
            check_attr_common(at, ZMQ_KEYS, known)
            if list(at.keys())[len(ZMQ_KEYS):] not in (["Sighting"], ["Tag", "Sighting"]):
                fail("zmq attribute tail %r" % list(at.keys())[len(ZMQ_KEYS):])
            v = at["value1"] + ("|" + at["value2"] if "|" in at["type"] else "")
            if v != at["value"] or ("|" not in at["type"] and at["value2"] != ""):
                fail("value1/value2 do not make value")
            for t in at.get("Tag", ()):
                check_tag(t, ["id", "name", "colour", "exportable", "local"])
            if list(d["Event"].keys()) != ZMQ_EVENT_KEYS or list(d["Event"]["Orgc"].keys()) != ["id", "uuid", "name"]:
                fail("zmq Event keys")
            if ("Object" in d) != (at["object_id"] != "0"):
                fail("zmq Object presence")
            if d["action"] != "add":
                fail("zmq action")
            nz += 1
    if nz != n:
        fail("%d zmq frames" % nz)

    # Feed directory.
    fd = os.path.join(tmp, "feed")
    run_gen(common + ["--format", "events", "--out", fd])
    man = json.load(open(os.path.join(fd, "manifest.json"), encoding="utf-8"))
    files = sorted(f for f in os.listdir(fd) if f not in ("manifest.json", "hashes.csv"))
    if sorted(k + ".json" for k in man) != files or len(files) != m:
        fail("manifest does not list the event files")
    na = 0
    nhash = 0
    for k, meta in man.items():
        if list(meta.keys()) != ["Orgc", "Tag", "info", "date", "analysis", "threat_level_id", "timestamp"]:
            fail("manifest entry keys")
        e = json.load(open(os.path.join(fd, k + ".json"), encoding="utf-8"))["Event"]
        if e["uuid"] != k or e["info"] != meta["info"] or e["timestamp"] != meta["timestamp"]:
            fail("event file differs from manifest")
        al = list(e["Attribute"])
        for o in e.get("Object", ()):
            if not o["Attribute"]:
                fail("empty object")
            for at in o["Attribute"]:
                if "object_relation" not in at:
                    fail("object attribute without object_relation")
            al.extend(o["Attribute"])
        for at in al:
            if "id" in at or "event_id" in at:
                fail("feed attribute with instance ids")
            if at["type"] not in known or not isinstance(at["to_ids"], bool):
                fail("feed attribute shape")
            nhash += 2 if "|" in at["type"] else 1
        na += len(al)
    if na != n:
        fail("feed holds %d attributes" % na)
    if sum(1 for _ in open(os.path.join(fd, "hashes.csv"))) != nhash:
        fail("hashes.csv line count")

    # CIDR file.
    cf = os.path.join(tmp, "cidrs.txt")
    gen_cidrs(cf, 2000, 42, 0.1)
    cl = open(cf).read().splitlines()
    if len(cl) != 2000 or len(set(cl)) != 2000:
        fail("cidrs not 2000 distinct lines")
    for c in cl:
        ipaddress.ip_network(c, strict=True)
    print("gen_misp --check: OK (%d attributes in %d events; restsearch, includeEventTags, zmq, events, "
          "values-out, cidrs)" % (g.stats["attributes"], g.stats["events"]))


# ---------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--format", choices=("restsearch", "events", "zmq"), default="restsearch")
    p.add_argument("-o", "--out", help="output file ('-' = stdout), or directory for --format events")
    p.add_argument("--attributes", type=int, default=1000000, help="attributes to generate")
    p.add_argument("--events", type=int, default=100000, help="events they are spread over")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--base-time", type=int, default=BASE_TIME, help="epoch the timestamps lead up to")
    p.add_argument("--cidr-fraction", type=float, default=0.01, help="share of ip-src/ip-dst that are CIDRs")
    p.add_argument("--ipv6-fraction", type=float, default=0.05, help="share of ip-src/ip-dst that are IPv6")
    p.add_argument("--no-ids-fraction", type=float, default=0.03, help="share of attributes with to_ids false")
    p.add_argument("--dup-fraction", type=float, default=0.02, help="share repeating a value of another event")
    p.add_argument("--tagged-fraction", type=float, default=0.2, help="share with attribute tags")
    p.add_argument("--object-fraction", type=float, default=0.05,
                   help="share of ip/domain/url/hash attributes inside an object")
    p.add_argument("--odd-comment-fraction", type=float, default=0.002,
                   help="share with comments needing JSON escapes (unicode, quotes, control characters)")
    p.add_argument("--include-event-tags", action="store_true",
                   help="restsearch: append the event's tags with \"inherited\":1 (includeEventTags)")
    p.add_argument("--values-out", metavar="FILE", help="write a sample of 'type<TAB>value' lines")
    p.add_argument("--values-count", type=int, default=100000, help="lines in --values-out")
    p.add_argument("--cidrs", type=int, metavar="N", help="write N distinct random CIDR prefixes")
    p.add_argument("--cidrs-out", metavar="FILE", default="cidrs.txt", help="file for --cidrs")
    p.add_argument("--cidrs-v6-fraction", type=float, default=0.1, help="share of IPv6 prefixes in --cidrs")
    p.add_argument("--check", action="store_true", help="self-test: generate 1000 attributes, validate, exit")
    p.add_argument("--quiet", action="store_true", help="no summary on stderr")
    a = p.parse_args(argv)
    if a.attributes < 0 or a.events < 1:
        p.error("--attributes must be >= 0 and --events >= 1")
    a.events = max(1, min(a.events, a.attributes)) if a.attributes else 1
    non_ind = sum(t[2] for t in TYPE_MIX if t[0] in NON_INDICATORS) / 1000.0
    # Non-indicators are always to_ids false; the rest make up the difference.
    a.no_ids_indicator = max(0.0, (a.no_ids_fraction - non_ind) / (1.0 - non_ind))
    return a


def main(argv):
    a = parse_args(argv)
    if a.check:
        tmp = tempfile.mkdtemp(prefix="gen_misp_check.")
        try:
            check(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return 0
    if not a.out and not a.values_out and not a.cidrs:
        print("gen_misp: nothing to do: give --out, --values-out or --cidrs", file=sys.stderr)
        return 2
    t = time.monotonic()
    if a.out or a.values_out:
        g = Gen(a)
        g.run()
        if not a.quiet:
            dt = time.monotonic() - t
            size = ""
            if a.out and a.out != "-" and a.format != "events":
                size = ", %.1f MB" % (os.path.getsize(a.out) / 1e6)
            s = g.stats
            print("gen_misp: %d attributes in %d events (%s%s) in %.1f s; cidr %d, ipv6 %d, to_ids false %d, "
                  "duplicates %d, tagged %d, in objects %d, odd comments %d"
                  % (s["attributes"], s["events"], a.format, size, dt, s["cidr"], s["ipv6"], s["to_ids_false"],
                     s["dup"], s["tagged"], s["in_object"], s["odd_comment"]), file=sys.stderr)
    if a.cidrs:
        t2 = time.monotonic()
        gen_cidrs(a.cidrs_out, a.cidrs, a.seed, a.cidrs_v6_fraction)
        if not a.quiet:
            print("gen_misp: %d CIDR prefixes in %s in %.1f s" % (a.cidrs, a.cidrs_out, time.monotonic() - t2),
                  file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:
        # Output piped into `head` and friends: stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)

#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A faithful MISP test server (REST + ZeroMQ publisher + test control plane).

Follows ../shared/reference/misp.md (§1 ZeroMQ, §3 REST, §8 checklist) and mirrors
the messages in tests/fixtures/misp/.  See tests/servers/README.md.

Run:  /usr/bin/python3 tests/servers/misp_server.py [--rest-port 0] [--zmq-port 0]
      [--kafka-bootstrap HOST:PORT [--kafka-topic NAME=TOPIC ...]]
Prints `READY rest=<port> zmq=<port> key=<default key>` on stdout once listening.
Exits on SIGTERM/SIGINT, on POST /_control/shutdown, or when stdin reaches EOF
(unless --no-stdin-watch).
"""
import argparse
import bisect
import calendar
import gc
import json
import os
import queue
import re
import signal
import sys
import threading
import time
import uuid as uuidlib
import errno
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs, unquote

import zmq

DEFAULT_KEY = "IocbusTestKey000000000000000000000000001"   # 40 chars
NOPERM_KEY = "IocbusNoSightingKey000000000000000000002"    # 40 chars, no perm_sighting
assert len(DEFAULT_KEY) == 40 and len(NOPERM_KEY) == 40

AUTH_FAILED = ("Authentication failed. Please make sure you pass the API key of an "
               "API enabled user along in the Authorization header.")
NO_PERMISSION = "You do not have permission to use this functionality."
INVALID_JSON = ("Invalid JSON input. Make sure that the JSON input is a correctly "
                "formatted JSON string. This request has been blocked to avoid an "
                "unfiltered request.")
GET_NO_PARAMS = ("Restsearch queries using GET and no parameters are not allowed. If you "
                 "have passed parameters via a JSON body, make sure you use POST requests.")
SIGHTING_FAIL = "Could not add the Sighting. Reason: "
HEARTBEAT_STATUS = [
    "And when you're dead I will be still alive.",
    "And believe me I am still alive.",
    "I'm doing science and I'm still alive.",
    "I feel FANTASTIC and I'm still alive.",
    "While you're dying I'll be still alive.",
]
KNOWN_FORMATS = {"json", "csv", "text", "hashes", "cache", "count", "suricata", "snort",
                 "stix", "stix2", "rpz", "netfilter", "openioc", "yara", "xml", "opendata",
                 "kunai", "attack-sightings", "yara-json"}
KEY_RE = re.compile(r"^[a-zA-Z0-9]{40}$")
FIXTURES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                         "..", "fixtures", "misp"))


def php_json(obj):
    """JsonTool::encode: compact, unescaped slashes and unicode (U+2028/9 escaped)."""
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return s.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def php_json_escaped(obj):
    """CakePHP _serialize: compact, `\\/`-escaped slashes."""
    return json.dumps(obj, separators=(",", ":")).replace("/", "\\/")


def php_json_pretty(obj):
    return json.dumps(obj, indent=4).replace("/", "\\/")


def s(v):
    return None if v is None else str(v)


def cake_bool(v):
    """DboSource::boolean: only 0, "0", false, "", null are false."""
    if v is None or v is False or v == 0 or v == "" or v == "0":
        return False
    if isinstance(v, str) and v.strip().lower() == "exclude":
        return False
    return True


class Error(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Misp:
    """In-memory MISP state. All access under self.lock."""

    def __init__(self, publish, publish_kafka=None):
        self.lock = threading.RLock()
        self.publish = publish          # publish(topic, obj)
        self.publish_kafka = publish_kafka  # publish_kafka(name, obj): Kafka-only documents
        self.orgs = {}                  # id -> org
        self.keys = {}                  # key -> {org_id, perm_sighting, perm_sync}
        self.tags = {}                  # name -> tag row
        self.events = {}                # id -> event
        self.attrs = {}                 # id -> attribute
        self.sightings = []
        self._heads = {}                # attribute id -> encoded row part (fast path)
        self._fx = None                 # fast-path index, rebuilt after any mutation
        self.next = {"org": 1, "event": 1, "attr": 1, "tag": 1, "sighting": 1,
                     "eventtag": 1}
        self.add_org("ORGNAME", "db47d0a6-8b78-4bcc-8417-83e8ff66c014")
        self.add_key(DEFAULT_KEY, "1", True)
        self.add_key(NOPERM_KEY, "1", False)

    def _id(self, kind):
        n = self.next[kind]
        self.next[kind] = n + 1
        return str(n)

    # ---- orgs, keys, tags -------------------------------------------------
    def add_org(self, name, uuid=None):
        for o in self.orgs.values():
            if o["name"] == name:
                return o
        o = {"id": self._id("org"), "name": name, "uuid": uuid or str(uuidlib.uuid4())}
        self.orgs[o["id"]] = o
        return o

    def add_key(self, key, org_id="1", perm_sighting=True, perm_sync=False):
        if not KEY_RE.match(key or ""):
            raise Error(400, "key must match ^[a-zA-Z0-9]{40}$")
        self.keys[key] = {"org_id": str(org_id), "perm_sighting": bool(perm_sighting),
                          "perm_sync": bool(perm_sync)}
        return {"key": key, **self.keys[key]}

    def tag(self, name, colour=None, exportable=True):
        t = self.tags.get(name)
        if t is None:
            t = {"id": self._id("tag"), "name": name, "colour": colour or "#0088cc",
                 "exportable": bool(exportable), "org_id": "0", "user_id": "0",
                 "hide_tag": False, "numerical_value": None,
                 "is_galaxy": name.startswith("misp-galaxy:"), "is_custom_galaxy": False,
                 "local_only": False}
            self.tags[name] = t
        return t

    @staticmethod
    def _tagspec(spec):
        if isinstance(spec, dict):
            return spec["name"], bool(spec.get("local", False))
        return spec, False

    # ---- lookups -------------------------------------------------------------
    def event(self, ref):
        ref = s(ref)
        if ref in self.events:
            return self.events[ref]
        for e in self.events.values():
            if e["uuid"] == ref:
                return e
        raise Error(404, "Invalid event")

    def attr(self, ref):
        ref = s(ref)
        if ref in self.attrs:
            return self.attrs[ref]
        for a in self.attrs.values():
            if a["uuid"] == ref:
                return a
        raise Error(404, "Invalid attribute")

    @staticmethod
    def now_after(old):
        return str(max(int(time.time()), int(old or 0) + 1))

    # ---- row shapes ----------------------------------------------------------
    def event_row(self, e):
        return {"id": e["id"], "org_id": e["org_id"], "date": e["date"], "info": e["info"],
                "user_id": "1", "uuid": e["uuid"], "published": e["published"],
                "analysis": e["analysis"], "attribute_count": str(sum(
                    1 for a in self.attrs.values()
                    if a["event_id"] == e["id"] and not a["deleted"])),
                "orgc_id": e["orgc_id"], "timestamp": e["timestamp"],
                "distribution": e["distribution"], "sharing_group_id": "0",
                "proposal_email_lock": False, "locked": False,
                "threat_level_id": e["threat_level_id"],
                "publish_timestamp": e["publish_timestamp"], "sighting_timestamp": "0",
                "disable_correlation": False, "extends_uuid": "", "protected": None}

    def orgc(self, e):
        o = self.orgs[e["orgc_id"]]
        return {"id": o["id"], "uuid": o["uuid"], "name": o["name"]}

    @staticmethod
    def attr_row(a):
        g = a.get
        return {"id": a["id"], "event_id": a["event_id"], "object_id": g("object_id", "0"),
                "object_relation": g("object_relation"), "category": a["category"],
                "type": a["type"], "value1": a["value1"], "value2": a["value2"],
                "to_ids": a["to_ids"], "uuid": a["uuid"], "timestamp": a["timestamp"],
                "distribution": g("distribution", "5"),
                "sharing_group_id": g("sharing_group_id", "0"), "comment": a["comment"],
                "deleted": a["deleted"], "disable_correlation": g("disable_correlation", False),
                "first_seen": g("first_seen"), "last_seen": g("last_seen"),
                "value": a["value"]}

    # ---- ZeroMQ messages -------------------------------------------------------
    def zmq_attribute(self, a, action, event_published=None):
        row = self.attr_row(a)
        if a["tags"]:
            row["Tag"] = [{"id": self.tags[n]["id"], "name": n,
                           "colour": self.tags[n]["colour"],
                           "exportable": self.tags[n]["exportable"], "local": loc}
                          for n, loc in a["tags"]]
        row["Sighting"] = []
        e = self.events[a["event_id"]]
        ev = {"id": e["id"], "date": e["date"], "info": e["info"], "uuid": e["uuid"],
              "published": e["published"] if event_published is None else event_published,
              "analysis": e["analysis"], "threat_level_id": e["threat_level_id"],
              "org_id": e["org_id"], "orgc_id": e["orgc_id"],
              "distribution": e["distribution"], "sharing_group_id": "0",
              "Orgc": self.orgc(e)}
        self.publish("misp_json_attribute", {"Attribute": row, "Event": ev, "action": action})

    def zmq_event(self, e, action):
        if action == "delete":
            self.publish("misp_json_event", {"Event": self.event_row(e), "action": "delete"})
            return
        et = [{"id": et_id, "event_id": e["id"], "tag_id": self.tags[n]["id"], "local": loc,
               "relationship_type": "",
               "Tag": {k: self.tags[n][k] for k in ("id", "name", "colour", "exportable")}}
              for n, loc, et_id in e["tags"]]
        self.publish("misp_json_event", {"Event": self.event_row(e), "Orgc": self.orgc(e),
                                         "EventTag": et, "action": action})

    def zmq_tag(self, name, action, event_id, attribute_id=None, local=None):
        t = dict(self.tags[name])
        if attribute_id is not None:
            t["attribute_id"] = attribute_id
        t["event_id"] = event_id
        if local is not None:
            t["local"] = local
        self.publish("misp_json_tag", {"Tag": t, "action": action})

    # ---- control-plane mutations -------------------------------------------------
    def ctl_event(self, p):
        orgc = p.get("orgc")
        orgc_id = self.add_org(orgc)["id"] if orgc else s(p.get("orgc_id", "1"))
        if orgc_id not in self.orgs:
            raise Error(400, "unknown orgc_id")
        ts = s(p.get("timestamp") or int(time.time()))
        e = {"id": self._id("event"), "uuid": p.get("uuid") or str(uuidlib.uuid4()),
             "info": p.get("info", "test event"), "org_id": "1", "orgc_id": orgc_id,
             "date": p.get("date") or time.strftime("%Y-%m-%d", time.gmtime(int(ts))),
             "published": bool(p.get("published", False)), "analysis": "1",
             "threat_level_id": s(p.get("threat_level_id", "2")),
             "distribution": s(p.get("distribution", "1")), "timestamp": ts,
             "publish_timestamp": "0", "tags": []}
        for spec in p.get("tags", []):
            n, loc = self._tagspec(spec)
            self.tag(n)
            e["tags"].append((n, loc, self._id("eventtag")))
        self.events[e["id"]] = e
        self.zmq_event(e, "add")
        return self.event_row(e)

    def ctl_attribute(self, p):
        e = self.event(p.get("event_id") or p.get("event_uuid"))
        typ, value = p["type"], str(p["value"])
        v1, v2 = (value.split("|", 1) + [""])[:2] if "|" in typ else (value, "")
        ts = s(p.get("timestamp") or int(time.time()))
        a = {"id": self._id("attr"), "event_id": e["id"],
             "uuid": p.get("uuid") or str(uuidlib.uuid4()), "type": typ,
             "category": p.get("category", "Network activity"), "value1": v1, "value2": v2,
             "value": value, "to_ids": bool(p.get("to_ids", True)),
             "comment": p.get("comment", ""), "deleted": bool(p.get("deleted", False)),
             "timestamp": ts, "tags": []}
        for spec in p.get("tags", []):
            n, loc = self._tagspec(spec)
            self.tag(n)
            a["tags"].append((n, loc))
        self.attrs[a["id"]] = a
        was = e["published"]
        e["published"] = False          # the save unpublishes; the message shows the old value
        e["timestamp"] = max(e["timestamp"], ts, key=int)
        self.zmq_attribute(a, "add", event_published=was)
        return self.attr_row(a)

    def ctl_edit(self, p):
        a = self.attr(p.get("id") or p.get("uuid"))
        self.invalidate(a)
        restore = a["deleted"] and p.get("deleted") is False
        for k in ("category", "comment"):
            if k in p:
                a[k] = p[k]
        if "to_ids" in p:
            a["to_ids"] = bool(p["to_ids"])
        if "type" in p:
            a["type"] = p["type"]
        if "value" in p or "type" in p:
            value = str(p.get("value", a["value"]))
            a["value1"], a["value2"] = ((value.split("|", 1) + [""])[:2]
                                        if "|" in a["type"] else (value, ""))
            a["value"] = value
        if restore:
            a["deleted"] = False
        a["timestamp"] = s(p.get("timestamp") or self.now_after(a["timestamp"]))
        self._touch_event(a)
        self.zmq_attribute(a, "edit")
        return self.attr_row(a)

    def _touch_event(self, a):
        e = self.events[a["event_id"]]
        e["published"] = False
        e["timestamp"] = max(e["timestamp"], a["timestamp"], key=int)

    def ctl_tag_attr(self, p, attach):
        a = self.attr(p.get("id") or p.get("uuid"))
        self.invalidate(a)
        name, local = p["tag"], bool(p.get("local", False))
        if attach:
            self.tag(name)
            if any(n == name for n, _ in a["tags"]):
                raise Error(400, "tag already attached")
            a["tags"].append((name, local))
        else:
            match = [t for t in a["tags"] if t[0] == name]
            if not match:
                raise Error(404, "tag not attached")
            local = match[0][1]
            a["tags"].remove(match[0])
        self.zmq_tag(name, "attached to attribute" if attach else "detached from attribute",
                     a["event_id"], attribute_id=a["id"])
        if not local:                   # MispAttribute::touch(): edit with bumped timestamp
            a["timestamp"] = self.now_after(a["timestamp"])
            self._touch_event(a)
            self.zmq_attribute(a, "edit")
        return self.attr_row(a)

    def ctl_tag_event(self, p, attach):
        e = self.event(p.get("id") or p.get("uuid"))
        name, local = p["tag"], bool(p.get("local", False))
        if attach:
            self.tag(name)
            e["tags"].append((name, local, self._id("eventtag")))
        else:
            match = [t for t in e["tags"] if t[0] == name]
            if not match:
                raise Error(404, "tag not attached")
            local = match[0][1]
            e["tags"].remove(match[0])
        self.zmq_tag(name, "attached to event" if attach else "detached from event",
                     e["id"], local=local)
        return self.event_row(e)

    def ctl_soft_delete(self, p):
        a = self.attr(p.get("id") or p.get("uuid"))
        self.invalidate(a)
        if a["deleted"]:
            raise Error(400, "already soft-deleted")
        a["deleted"] = True
        a["timestamp"] = self.now_after(a["timestamp"])
        self._touch_event(a)
        self.zmq_attribute(a, "soft-delete")
        return self.attr_row(a)

    def ctl_delete(self, p):
        a = self.attr(p.get("id") or p.get("uuid"))
        self.invalidate(a)
        del self.attrs[a["id"]]
        self.publish("misp_json_attribute", {"Attribute": self.attr_row(a),
                                             "action": "delete"})
        return self.attr_row(a)

    def ctl_publish(self, p):
        e = self.event(p.get("id") or p.get("uuid"))
        e["published"] = True
        e["publish_timestamp"] = self.now_after(e["publish_timestamp"])
        host = self.orgs["1"]
        ev = {k: v for k, v in self.event_row(e).items()
              if k not in ("user_id", "sighting_timestamp", "protected")}
        ev["Org"] = {"id": host["id"], "name": host["name"], "uuid": host["uuid"]}
        ev["Orgc"] = {"id": e["orgc_id"], "name": self.orgs[e["orgc_id"]]["name"],
                      "uuid": self.orgs[e["orgc_id"]]["uuid"]}
        atts = []
        for a in self.attrs.values():
            if a["event_id"] != e["id"] or a["deleted"]:
                continue
            r = {k: v for k, v in self.attr_row(a).items() if k not in ("value1", "value2")}
            r["Galaxy"], r["ShadowAttribute"] = [], []
            if a["tags"]:
                r["Tag"] = [self._full_tag(n, loc) for n, loc in a["tags"]]
            atts.append(r)
        ev["Attribute"] = atts
        ev["ShadowAttribute"], ev["RelatedEvent"], ev["Galaxy"] = [], [], []
        ev["Object"], ev["EventReport"] = [], []
        if e["tags"]:
            ev["Tag"] = [self._full_tag(n, loc) for n, loc, _ in e["tags"]]
        self.publish("misp_json", {"Event": ev})
        if self.publish_kafka:
            self.publish_kafka("event_publish", self._fetch_event_raw(ev, "publish"))
        return self.event_row(e)

    @staticmethod
    def _join_rows(tags, **ids):
        """EventTag/AttributeTag rows around full tags (ids numbered per list)."""
        return [dict({"id": str(i)}, **ids, tag_id=t["id"], local=t["local"],
                     relationship_type="",
                     Tag={k: v for k, v in t.items()
                          if k not in ("local", "relationship_type")})
                for i, t in enumerate(tags, 1)]

    @staticmethod
    def _fetch_event_raw(ev, action):
        """Event::fetchEvent()'s CakePHP array (what JSONConverterTool::convert nests and
        rewrites): associations beside `Event`, `EventTag`/`AttributeTag` join rows."""
        ev = dict(ev)
        raw = {"Event": None}
        for k in ("Org", "Orgc", "Attribute", "ShadowAttribute", "RelatedEvent", "Galaxy",
                  "Object", "EventReport"):
            raw[k] = ev.pop(k)
        raw["EventTag"] = Misp._join_rows(ev.pop("Tag", []), event_id=ev["id"])
        atts = []
        for a in raw["Attribute"]:
            a = dict(a)
            a["AttributeTag"] = Misp._join_rows(a.pop("Tag", []), attribute_id=a["id"],
                                                event_id=a["event_id"])
            atts.append(a)
        raw["Attribute"] = atts
        raw["Event"] = ev
        raw["action"] = action
        return raw

    def _full_tag(self, n, loc):
        t = self.tags[n]
        return {"id": t["id"], "name": n, "colour": t["colour"], "exportable": t["exportable"],
                "user_id": "0", "hide_tag": False, "numerical_value": None,
                "is_galaxy": t["is_galaxy"], "is_custom_galaxy": False, "local_only": False,
                "local": loc, "relationship_type": ""}

    def ctl_delete_event(self, p):
        e = self.event(p.get("id") or p.get("uuid"))
        row = self.event_row(e)
        # Event::quickDelete: raw SQL, no per-attribute messages.
        for aid in [a["id"] for a in self.attrs.values() if a["event_id"] == e["id"]]:
            self.invalidate(self.attrs.pop(aid))
        del self.events[e["id"]]
        self.publish("misp_json_event", {"Event": row, "action": "delete"})
        return row

    # ---- REST ----------------------------------------------------------------------
    def rest_search_body(self, f, path=None):
        """The restSearch body and X-Result-Count. `path` forces "general" or "fast"
        (self-test only); by default the fast path answers whenever it can."""
        fmt = f.get("returnFormat", "json") or "json"
        if fmt not in KNOWN_FORMATS:
            raise Error(404, "Invalid output format.")
        if fmt != "json":
            raise Error(501, "misp_server.py emulates returnFormat json only")
        head, tail = b'{"response": {"Attribute": [', b"]}}\n"
        if path != "general" and self._fast_ok(f):
            # cached items are b"," + item (UTF-8): the page goes out as a list of
            # buffers (sendmsg), never joined; the first one without its comma
            items, count = self._fast_search(f)
            if items:
                items[0] = memoryview(items[0])[1:]
            return [head] + items + [tail], count, "fast"
        if path == "fast":
            raise Error(400, "misp_server.py: this request cannot take the fast path")
        res, count = self.rest_search(f)
        return [head + ",".join(php_json(i) for i in res).encode("utf-8") + tail], count, \
            "general"

    def rest_search(self, f):
        """General path: every filter, one dict per item (php_json'd by the caller)."""
        res = [a for a in sorted(self.attrs.values(), key=lambda a: int(a["id"]))
               if self._match(a, f)]
        order = f.get("order")
        if isinstance(order, str) and order.strip():
            parts = order.strip().split()
            col = parts[0].split(".")[-1]
            if col in ("id", "event_id", "timestamp"):
                res.sort(key=lambda a: int(a[col]),
                         reverse=len(parts) > 1 and parts[1].lower() == "desc")
            elif col in ("type", "category", "value"):
                res.sort(key=lambda a: a[col],
                         reverse=len(parts) > 1 and parts[1].lower() == "desc")
        res, count = _page(res, f)
        return [self._search_item(a, f) for a in res], count

    def _event_ctx(self, e):
        o = self.orgs[e["orgc_id"]]
        return {"id": e["id"], "orgc_id": e["orgc_id"], "org_id": e["org_id"],
                "date": e["date"], "threat_level_id": e["threat_level_id"],
                "info": e["info"], "published": e["published"], "uuid": e["uuid"],
                "analysis": e["analysis"], "timestamp": e["timestamp"],
                "distribution": e["distribution"],
                "publish_timestamp": e["publish_timestamp"],
                "sharing_group_id": "0", "extends_uuid": "",
                "Tag": [{"local": loc, "id": self.tags[n]["id"], "name": n,
                         "colour": self.tags[n]["colour"], "numerical_value": None}
                        for n, loc, _ in e["tags"]],
                "Orgc": {"id": o["id"], "name": o["name"], "uuid": o["uuid"],
                         "local": False}}

    @staticmethod
    def _event_min(e):
        return {"org_id": e["org_id"], "distribution": e["distribution"],
                "publish_timestamp": e["publish_timestamp"], "id": e["id"],
                "info": e["info"], "orgc_id": e["orgc_id"], "uuid": e["uuid"]}

    def _attr_tag(self, n, loc):
        t = self.tags[n]
        return {"id": t["id"], "name": n, "colour": t["colour"], "numerical_value": None,
                "is_galaxy": t["is_galaxy"], "local": loc}

    def _inherited_tags(self, e):
        return [{"id": self.tags[n]["id"], "name": n, "colour": self.tags[n]["colour"],
                 "numerical_value": None, "inherited": 1}
                for n, _, _ in e["tags"] if self.tags[n]["exportable"]]

    def _search_item(self, a, f):
        r = {k: v for k, v in self.attr_row(a).items() if k not in ("value1", "value2")}
        e = self.events[a["event_id"]]
        if cake_bool(f.get("includeEventUuid")):
            r["event_uuid"] = e["uuid"]
        r["Event"] = self._event_ctx(e) if cake_bool(f.get("includeContext")) \
            else self._event_min(e)
        if a.get("object") is not None:
            r["Object"] = a["object"]
        tags = [self._attr_tag(n, loc) for n, loc in a["tags"]]
        if cake_bool(f.get("includeEventTags")):
            tags += self._inherited_tags(e)
        if tags:
            r["Tag"] = tags
        return r

    # ---- REST fast path ------------------------------------------------------------
    # Paged full pulls and catch-ups of `iocbus run` (returnFormat, limit, page, order
    # by id, includeContext, includeEventTags, includeEventUuid, timestamp, deleted)
    # on a large preloaded state: rows kept in id order, the attribute part of each
    # item encoded once (self._heads, per attribute), items per shape built lazily
    # and cached, pages answered as slices + join. Any mutation drops the derived
    # index (self._fx); mutated attributes also lose their head. Output is
    # byte-identical to the general path (tests/servers/test_misp_server.py checks).
    FAST_KEYS = {"returnFormat", "limit", "page", "order", "includeContext",
                 "includeEventTags", "includeEventUuid", "timestamp", "attribute_timestamp",
                 "deleted"}
    # keys the general path reads that the fast path does not implement
    SLOW_KEYS = ("event_timestamp", "publish_timestamp", "last", "type", "category", "value",
                 "value1", "value2", "eventid", "uuid", "org", "tags")

    def stats(self):
        deleted = sum(1 for a in self.attrs.values() if a["deleted"])
        return {"attributes": len(self.attrs), "deleted": deleted, "events": len(self.events),
                "tags": len(self.tags), "orgs": len(self.orgs), "sightings": len(self.sightings)}

    def invalidate(self, a=None):
        self._fx = None
        if a is not None:
            self._heads.pop(a["id"], None)

    def _fast_ok(self, f):
        for k in ("to_ids", "published"):
            if f.get(k) is not None:
                return False
        for k in self.SLOW_KEYS:
            if f.get(k) not in (None, "", []):
                return False
        order = f.get("order")
        if isinstance(order, str) and order.strip():
            parts = order.strip().split()
            col = parts[0].split(".")[-1]
            desc = len(parts) > 1 and parts[1].lower() == "desc"
            if col in ("event_id", "timestamp", "type", "category", "value") or \
                    (col == "id" and desc):
                return False
        return True

    def _fast_index(self):
        fx = self._fx
        if fx is None:
            rows = list(self.attrs.values())
            ids = [int(a["id"]) for a in rows]
            if any(ids[i] > ids[i + 1] for i in range(len(ids) - 1)):
                order = sorted(range(len(rows)), key=ids.__getitem__)
                rows = [rows[i] for i in order]
            fx = self._fx = {"rows": rows, "ts": None, "sel": {}, "items": {}, "ev": {},
                             "inh": {}, "tag": {}}
        return fx

    def _fast_select(self, fx, f):
        """Positions (in id order) of the rows the deleted/timestamp filters keep."""
        rows = fx["rows"]
        d = f.get("deleted")
        if d is None or d == "" or (not isinstance(d, list) and not cake_bool(d)):
            allowed = (False,)
        elif isinstance(d, list):
            allowed = tuple({cake_bool(x) for x in d})
        else:
            allowed = (True,)
        ranges = []
        for key in ("timestamp", "attribute_timestamp"):
            if f.get(key) not in (None, ""):
                ranges.append(_time_range(f[key]))
        lo = max([r[0] for r in ranges], default=None)
        his = [r[1] for r in ranges if r[1] is not None]
        hi = min(his) if his else None
        ck = (tuple(sorted(allowed)), lo, hi)
        sel = fx["sel"].get(ck)
        if sel is not None:
            return sel
        if lo is None and hi is None:
            cand = range(len(rows))
        else:
            if fx["ts"] is None:        # (timestamp, position), sorted
                fx["ts"] = sorted((int(a["timestamp"]), i) for i, a in enumerate(rows))
            ts = fx["ts"]
            i0 = bisect.bisect_left(ts, (lo, -1)) if lo is not None else 0
            i1 = bisect.bisect_right(ts, (hi, len(rows))) if hi is not None else len(ts)
            cand = sorted(p for _, p in ts[i0:i1])
        if len(allowed) == 2:
            sel = list(cand)
        elif not allowed:               # "deleted": [] matches nothing
            sel = []
        else:
            want = allowed[0]
            sel = [p for p in cand if rows[p]["deleted"] == want]
        fx["sel"][ck] = sel
        return sel

    def _head(self, a):
        h = self._heads.get(a["id"])
        if h is None:
            r = self.attr_row(a)
            del r["value1"], r["value2"]
            h = self._heads[a["id"]] = php_json(r)[:-1]
        return h

    def _fast_search(self, f):
        fx = self._fast_index()
        sel, count = _page(self._fast_select(fx, f), f)
        ctx = cake_bool(f.get("includeContext"))
        inh = cake_bool(f.get("includeEventTags"))
        euu = cake_bool(f.get("includeEventUuid"))
        shape = (ctx, inh, euu)
        items = fx["items"].get(shape)
        if items is None:
            items = fx["items"][shape] = [None] * len(fx["rows"])
        rows, evs, tagc, inhc = fx["rows"], fx["ev"], fx["tag"], fx["inh"]
        out = []
        for p in sel:
            s = items[p]
            if s is None:
                a = rows[p]
                e = self.events[a["event_id"]]
                ek = (e["id"], ctx)
                ev = evs.get(ek)
                if ev is None:
                    ev = evs[ek] = php_json(self._event_ctx(e) if ctx else self._event_min(e))
                parts = [self._head(a)]
                if euu:
                    parts.append(',"event_uuid":' + php_json(e["uuid"]))
                parts.append(',"Event":')
                parts.append(ev)
                if a.get("object") is not None:
                    parts.append(',"Object":' + php_json(a["object"]))
                tl = []
                for n, loc in a["tags"]:
                    tk = (n, loc)
                    t = tagc.get(tk)
                    if t is None:
                        t = tagc[tk] = php_json(self._attr_tag(n, loc))
                    tl.append(t)
                if inh and e["tags"]:
                    it = inhc.get(e["id"])
                    if it is None:
                        it = inhc[e["id"]] = [php_json(t) for t in self._inherited_tags(e)]
                    tl.extend(it)
                if tl:
                    parts.append(',"Tag":[' + ",".join(tl) + "]")
                parts.append("}")
                s = items[p] = ("," + "".join(parts)).encode("utf-8")
            out.append(s)
        return out, count

    # ---- preload ---------------------------------------------------------------------
    def preload(self, path):
        """Load a restSearch-shaped file ({"response":{"Attribute":[...]}}, items with
        Event context, optional Object and Tag; `"inherited":1` tags become event tags)
        into the state, without ZeroMQ messages. Returns (attributes, events, seconds)."""
        t0 = time.monotonic()
        gc.disable()
        try:
            for chunk in _rs_chunks(path):
                self._preload_items(chunk)
        finally:
            gc.enable()
        self.next["attr"] = max([int(i) for i in self.attrs] + [self.next["attr"] - 1]) + 1
        self.next["event"] = max([int(i) for i in self.events] + [self.next["event"] - 1]) + 1
        self.next["org"] = max([int(i) for i in self.orgs] + [self.next["org"] - 1]) + 1
        self.next["tag"] = max([int(t["id"]) for t in self.tags.values()]
                               + [self.next["tag"] - 1]) + 1
        for e in self.events.values():
            if e["tags"] is None:       # no attribute of it carried a tag
                e["tags"] = []
            if not e["date"]:
                e["date"] = time.strftime("%Y-%m-%d", time.gmtime(int(e["timestamp"])))
        self._fx = None
        gc.freeze()                     # keep the collector off the preloaded objects
        return len(self.attrs), len(self.events), time.monotonic() - t0

    def _preload_org(self, oid):
        if oid not in self.orgs:
            self.orgs[oid] = {"id": oid, "name": "ORG-%s" % oid,
                              "uuid": str(uuidlib.uuid5(uuidlib.NAMESPACE_URL,
                                                        "iocbus-org-%s" % oid))}

    def _preload_items(self, items):
        attrs, events, tags, heads = self.attrs, self.events, self.tags, self._heads
        enc = _PHP_ENC
        for a in items:
            ev = a.pop("Event")
            obj = a.pop("Object", None)
            tl = a.pop("Tag", None)
            eid = a["event_id"]
            e = events.get(eid)
            if e is None:
                for k in ("org_id", "orgc_id"):
                    self._preload_org(ev[k])
                pts = ev.get("publish_timestamp", "0")
                e = events[eid] = {
                    "id": eid, "uuid": ev["uuid"], "info": ev["info"],
                    "org_id": ev["org_id"], "orgc_id": ev["orgc_id"], "date": "",
                    "published": pts not in ("0", 0, None), "analysis": "1",
                    "threat_level_id": "2", "distribution": ev.get("distribution", "1"),
                    "timestamp": a["timestamp"], "publish_timestamp": pts, "tags": None}
            elif int(a["timestamp"]) > int(e["timestamp"]):
                e["timestamp"] = a["timestamp"]
            # the row part as the general path encodes it, when the file has exactly
            # its keys in its order (otherwise _head() encodes it on first use)
            if tuple(a) == RS_ROW_KEYS:
                h = enc(a)
                if "\u2028" in h or "\u2029" in h:
                    h = h.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
                heads[a["id"]] = h[:-1]
            typ, value = a["type"], a["value"]
            if "|" in typ:
                v1, _, v2 = value.partition("|")
            else:
                v1, v2 = value, ""
            a["value1"], a["value2"] = v1, v2
            own = []
            if tl:
                inh = []
                for t in tl:
                    n = t["name"]
                    if n not in tags:
                        tags[n] = {"id": str(t["id"]), "name": n, "colour": t["colour"],
                                   "exportable": True, "org_id": "0", "user_id": "0",
                                   "hide_tag": False, "numerical_value": None,
                                   "is_galaxy": bool(t.get("is_galaxy",
                                                           n.startswith("misp-galaxy:"))),
                                   "is_custom_galaxy": False, "local_only": False}
                    if t.get("inherited"):
                        inh.append(n)
                    else:
                        own.append((n, bool(t.get("local", False))))
                if e["tags"] is None:
                    e["tags"] = [(n, False, self._id("eventtag")) for n in inh]
            a["tags"] = own
            if obj is not None:
                a["object"] = obj
            attrs[a["id"]] = a

    def _match(self, a, f):
        e = self.events[a["event_id"]]
        d = f.get("deleted")
        if d is None or d == "" or (not isinstance(d, list) and not cake_bool(d)):
            if a["deleted"]:
                return False
        elif isinstance(d, list):
            allowed = {cake_bool(x) for x in d}
            if a["deleted"] not in allowed:
                return False
        elif not a["deleted"]:          # 1 / "only"
            return False
        if "to_ids" in f and f["to_ids"] is not None and a["to_ids"] != cake_bool(f["to_ids"]):
            return False
        if ("published" in f and f["published"] is not None
                and e["published"] != cake_bool(f["published"])):
            return False
        for key, val in (("timestamp", a["timestamp"]), ("attribute_timestamp", a["timestamp"]),
                         ("event_timestamp", e["timestamp"]),
                         ("publish_timestamp", e["publish_timestamp"]),
                         ("last", e["publish_timestamp"])):
            if f.get(key) not in (None, ""):
                lo, hi = _time_range(f[key])
                if int(val) < lo or (hi is not None and int(val) > hi):
                    return False
        for key, vals in (("type", [a["type"]]), ("category", [a["category"]]),
                          ("value", [a["value1"], a["value2"]]),
                          ("value1", [a["value1"]]), ("value2", [a["value2"]])):
            if f.get(key) not in (None, "", []):
                if not _str_filter(f[key], vals, ci=key.startswith("value")):
                    return False
        if f.get("eventid") not in (None, "", []):
            if not _str_filter(f["eventid"], [e["id"], e["uuid"]], ci=True, like=False):
                return False
        if f.get("uuid") not in (None, "", []):
            if not _str_filter(f["uuid"], [a["uuid"], e["uuid"]], ci=True, like=False):
                return False
        if f.get("org") not in (None, "", []):
            o = self.orgs[e["orgc_id"]]
            if not _str_filter(f["org"], [o["id"], o["name"], o["uuid"]], ci=True, like=False):
                return False
        if f.get("tags") not in (None, "", []):
            if not self._tag_filter(f["tags"], a, e):
                return False
        return True

    def _tag_filter(self, spec, a, e):
        if isinstance(spec, dict):
            ors, ands, nots = (_aslist(spec.get("OR")), _aslist(spec.get("AND")),
                               _aslist(spec.get("NOT")))
        else:
            ors, ands, nots = [], [], []
            for t in _aslist(spec):
                (nots if t.startswith("!") else ors).append(t.lstrip("!"))
        tagset = [n for n, _ in a["tags"]] + [n for n, _, _ in e["tags"]]

        def hit(pat, names):
            if pat.isdigit():
                return any(self.tags[n]["id"] == pat for n in names)
            return any(_like(pat, n, ci=False) for n in names)
        known = list(self.tags)
        if ors and not any(hit(p, known) for p in ors):
            return False
        if ors and not any(hit(p, tagset) for p in ors):
            return False
        if ands and not all(hit(p, tagset) for p in ands):
            return False
        if nots and any(hit(p, tagset) for p in nots):
            return False
        return True

    def sightings_add(self, p, key):
        if not self.keys[key]["perm_sighting"]:
            raise Error(403, NO_PERMISSION)
        typ = p.get("type", "0")
        if str(typ) not in ("0", "1", "2") or isinstance(typ, bool):
            return {"message": SIGHTING_FAIL +
                    "Invalid type, please change it before you POST 1000000 sightings."}
        ids = p.get("id") if p.get("id") not in (None, "") else p.get("uuid")
        values = p.get("values")
        if values is None and p.get("value") not in (None, ""):
            values = [p["value"]]
        if ids not in (None, ""):
            hits = []
            refs = [r.strip() for r in str(ids).split("|")]
            # attr() finds a uuid by scanning every attribute; for a list, index them once
            by_uuid = {a["uuid"]: a for a in self.attrs.values()} if len(refs) > 1 else None
            for ref in refs:
                if by_uuid is not None and ref not in self.attrs:
                    if ref in by_uuid:
                        hits.append(by_uuid[ref])
                    continue
                try:
                    hits.append(self.attr(ref))
                except Error:
                    pass
        elif values:
            vs = {str(v).lower() for v in _aslist(values)}
            hits = [a for a in sorted(self.attrs.values(), key=lambda a: int(a["id"]))
                    if a["value1"].lower() in vs or (a["value2"] and a["value2"].lower() in vs)]
        else:
            return {"message": SIGHTING_FAIL + "No valid attributes found."}
        if not hits:
            return {"message": SIGHTING_FAIL +
                    "No valid attributes found that match the criteria."}
        org_id = self.keys[key]["org_id"]
        ts = _sighting_ts(p)
        last = None
        for a in hits:
            if typ == "2":              # strict PHP === '2'
                self.sightings = [x for x in self.sightings
                                  if not (x["type"] == "2" and x["org_id"] == org_id
                                          and x["attribute_id"] == a["id"])]
            sg = {"id": self._id("sighting"), "attribute_id": a["id"],
                  "event_id": a["event_id"], "org_id": org_id, "date_sighting": ts,
                  "uuid": str(uuidlib.uuid4()), "source": str(p.get("source", "")).strip()[:255],
                  "type": str(typ)}
            self.sightings.append(sg)
            e = self.events[a["event_id"]]
            msg = dict(sg)
            msg["Event"] = {"id": e["id"], "uuid": e["uuid"], "orgc_id": e["orgc_id"],
                            "org_id": e["org_id"], "info": e["info"],
                            "Orgc": {"name": self.orgs[e["orgc_id"]]["name"]}}
            msg["Attribute"] = {"value": a["value"], "id": a["id"], "uuid": a["uuid"],
                                "type": a["type"], "category": a["category"],
                                "to_ids": a["to_ids"]}
            self.publish("misp_json_sighting", {"Sighting": msg, "action": "add"})
            last = sg
        return {"Sighting": last}


def _sighting_ts(p):
    """`timestamp` (epoch s), else `date` + `time` (Y-m-d + H:i:s, read as UTC here:
    MISP uses the server's zone), else now (misp.md §3.5)."""
    if p.get("timestamp") not in (None, ""):
        return str(int(p["timestamp"]))
    if p.get("date") and p.get("time"):
        t = time.strptime("%s %s" % (p["date"], p["time"]), "%Y-%m-%d %H:%M:%S")
        return str(calendar.timegm(t))
    return str(int(time.time()))


RS_ROW_KEYS = ("id", "event_id", "object_id", "object_relation", "category", "type", "to_ids",
               "uuid", "timestamp", "distribution", "sharing_group_id", "comment", "deleted",
               "disable_correlation", "first_seen", "last_seen", "value")
_PHP_ENC = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _page(res, f):
    """limit/page slicing and X-Result-Count (with __iteratedFetch's count+1 quirk)."""
    limit = _int_or_none(f.get("limit"))
    if limit:
        page = _int_or_none(f.get("page")) or 1
        res = res[limit * (page - 1): limit * page]
        return res, (len(res) + 1 if len(res) == limit else len(res))
    return res, len(res)


_NON_ASCII = re.compile(rb"[\x80-\xff]")
_ITEM_SEP = b'},{"id":'


def _loads_piece(raw, pos, stop):
    """json.loads of the items in raw[pos:stop] (comma-separated objects). ASCII runs
    are decoded as ASCII (cheap); only the items holding non-ASCII bytes go through
    the UTF-8 decoder, so one emoji does not make a whole piece a UCS-4 string."""
    out = []
    while pos < stop:
        m = _NON_ASCII.search(raw, pos, stop)
        if m is None:
            out.extend(json.loads("[" + raw[pos:stop].decode("ascii") + "]"))
            break
        b = raw.rfind(_ITEM_SEP, pos, m.start())
        if b >= 0:                      # ASCII items before the one holding it
            out.extend(json.loads("[" + raw[pos:b + 1].decode("ascii") + "]"))
            pos = b + 2
        e = raw.find(_ITEM_SEP, m.end(), stop)
        e = stop if e < 0 else e + 1
        out.extend(json.loads(b"[" + raw[pos:e] + b"]"))
        pos = e + 1
    return out


def _rs_chunks(path, chunk=16 << 20):
    """Parse a restSearch file's Attribute list in pieces of about `chunk` bytes: one
    json.loads of a whole 600 MB file is slow (a single huge str) and holds it all.
    Pieces are cut before `},{"id":`; a cut that falls inside a string leaves a piece
    that does not parse, which is then merged with the next one (and a piece whose
    ASCII/UTF-8 split went wrong for the same reason is parsed whole)."""
    with open(path, "rb") as fh:
        raw = fh.read()
    start = raw.find(b"[", raw.find(b'"Attribute"')) + 1
    if not raw.startswith(b"{") or start <= 0:
        raise ValueError("%s: not a restSearch response" % path)
    end = raw.rfind(b"]")               # the list ends at the last ] (then "}}\n")
    if raw.find(b"{", start, end) < 0:  # an empty list
        return
    pos = start
    cut_from = pos
    while pos < end:
        cut = raw.find(_ITEM_SEP, cut_from + chunk, end) if cut_from + chunk < end else -1
        stop = end if cut < 0 else cut + 1
        try:
            try:
                items = _loads_piece(raw, pos, stop)
            except ValueError:
                items = json.loads(b"[" + raw[pos:stop] + b"]")
        except ValueError:
            if stop >= end:
                raise
            cut_from = stop             # the cut was inside a string: take more
            continue
        yield items
        pos = stop + 1                  # past the comma
        cut_from = pos


def _named_params(path):
    """CakePHP named parameters of /attributes/restSearch[/json]/k:v/k:v (each segment
    URL-decoded; a segment without ':' is a passed argument, ignored here)."""
    rest = path[len("/attributes/restSearch"):].lstrip("/")
    segs = [unquote(x) for x in rest.split("/") if x]
    if segs and segs[0] == "json":
        segs = segs[1:]
    return dict(x.split(":", 1) for x in segs if ":" in x)


def _aslist(v):
    if v is None:
        return []
    if isinstance(v, list):
        return [str(x).strip() for x in v]
    v = str(v).strip()
    return [x.strip() for x in v.split("||")] if "||" in v else [v]


def _like(pat, val, ci):
    if "%" in pat:
        rx = "^" + ".*".join(re.escape(p) for p in pat.split("%")) + "$"
        return re.match(rx, val, re.I | re.S if ci else re.S) is not None
    return pat.lower() == val.lower() if ci else pat == val


def _str_filter(spec, vals, ci, like=True):
    pats = _aslist(spec)
    pos = [p for p in pats if not p.startswith("!")]
    neg = [p[1:] for p in pats if p.startswith("!")]
    m = (lambda p, v: _like(p, v, ci)) if like else \
        (lambda p, v: p.lower() == v.lower() if ci else p == v)
    if pos and not any(m(p, v) for p in pos for v in vals):
        return False
    if neg and any(m(p, v) for p in neg for v in vals):
        return False
    return True


def _int_or_none(v):
    if v is None or v == "":
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _one_time(v):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return int(v)
    v = str(v).strip()
    if re.fullmatch(r"\d+", v):
        return int(v)
    m = re.fullmatch(r"(\d+)([dhms])", v)
    if m:
        mult = {"d": 86400, "h": 3600, "m": 60, "s": 1}[m.group(2)]
        return int(time.time()) - int(m.group(1)) * mult
    return int(time.time()) + 1          # invalid: "now+1", matches nothing


def _time_range(v):
    if isinstance(v, list) and len(v) == 2:
        lo, hi = _one_time(v[0]), _one_time(v[1])
        return (lo, hi) if lo <= hi else (hi, lo)
    return _one_time(v), None


class Publisher(threading.Thread):
    """Mirrors mispzmq.py: one queue drained to a PUB socket; heartbeat on idle timeout.
    control("stop") closes the socket (frames published meanwhile are dropped and no
    heartbeat is sent, like a publisher that is down); control("start") binds again on
    the same port. Both run on this thread (ZeroMQ sockets are not thread-safe)."""

    def __init__(self, ctx, port, heartbeat, spaced, plain=None):
        super().__init__(daemon=True)
        self.ctx = ctx
        self.port = port
        self.sock = None
        self.plain = plain              # (user, password) when Plugin.ZeroMQ_username is set
        self._bind()
        self.q = queue.Queue()
        self.heartbeat = heartbeat
        self.spaced = spaced
        self.start_time = int(time.time())
        self.stop = threading.Event()
        self.dropped = 0

    def _bind(self):
        sock = self.ctx.socket(zmq.PUB)
        sock.setsockopt(zmq.LINGER, 0)
        if self.plain:                  # mispzmq.py: ZAP handler for PLAIN, then plain_server
            sock.plain_server = True
        deadline = time.monotonic() + 5.0
        while True:                     # the old listener may take a moment to go away
            try:
                sock.bind("tcp://127.0.0.1:%s" % (self.port if self.port else "*"))
                break
            except zmq.ZMQError as e:
                if e.errno != errno.EADDRINUSE or not self.port or \
                        time.monotonic() > deadline:
                    sock.close()
                    raise
                time.sleep(0.02)
        self.port = int(sock.getsockopt_string(zmq.LAST_ENDPOINT).rsplit(":", 1)[1])
        self.sock = sock

    def publish(self, topic, obj):
        self.q.put((topic + " " + php_json(obj)).encode("utf-8"))

    def control(self, what, timeout=10.0):
        """Stop or start the socket from another thread; returns the state after it."""
        done = threading.Event()
        res = {}
        self.q.put(("ctl", what, done, res))
        if not done.wait(timeout):
            raise Error(500, "publisher did not answer")
        if "error" in res:
            raise Error(500, res["error"])
        return res

    def _control(self, what, res):
        try:
            if what == "stop" and self.sock is not None:
                self.sock.close()
                self.sock = None
            elif what == "start" and self.sock is None:
                self._bind()
        except zmq.ZMQError as e:
            res["error"] = "zmq %s: %s" % (what, e)
        res.update({"zmq": "stopped" if self.sock is None else "started",
                    "port": self.port, "dropped": self.dropped})

    def run(self):
        while not self.stop.is_set():
            try:
                item = self.q.get(timeout=self.heartbeat if self.sock is not None else None)
            except queue.Empty:
                up = int(time.time()) - self.start_time
                hb = {"status": HEARTBEAT_STATUS[int(up / 10) % 5], "uptime": up}
                body = json.dumps(hb) if self.spaced else php_json(hb)
                item = ("misp_json_self " + body).encode("utf-8")
            if item is None:
                break
            if isinstance(item, tuple):
                self._control(item[1], item[3])
                item[2].set()
                continue
            if self.sock is None:
                self.dropped += 1       # the publisher is down: the message is lost
                continue
            self.sock.send(item)
        if self.sock is not None:
            self.sock.close()


# ZMQ topic -> KafkaPubTool topic name (§2); misp_json (publish) and misp_json_self have
# no Kafka twin: publish goes to `event_publish` in fetchEvent() shape, no heartbeat.
KAFKA_FROM_ZMQ = {"misp_json_event": "event", "misp_json_attribute": "attribute",
                  "misp_json_tag": "tag", "misp_json_sighting": "sighting",
                  "misp_json_object": "object",
                  "misp_json_object_reference": "object_reference",
                  "misp_json_user": "user", "misp_json_organisation": "organisation"}
KAFKA_NAMES = ("event", "event_publish", "object", "object_reference", "attribute",
               "shadow_attribute", "tag", "sighting", "user", "organisation", "audit")


class KafkaPub:
    """Mirrors KafkaPubTool::publishJson: json_encode without flags, null key, no headers,
    unassigned partition, poll(0).  Unlike MISP, a poller thread serves delivery reports
    and shutdown flushes with a bound, so tests see every message."""

    def __init__(self, bootstrap, topics, verbose):
        from confluent_kafka import Producer     # only needed with --kafka-bootstrap
        self.topics = {n: "misp_" + n for n in KAFKA_NAMES}
        self.topics.update(topics)
        self.verbose = verbose
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                                  "message.timeout.ms": 30000,
                                  "socket.timeout.ms": 10000})
        self.stop = threading.Event()
        self.errors = 0
        self.poller = threading.Thread(target=self._poll, daemon=True)
        self.poller.start()

    def _poll(self):
        while not self.stop.is_set():
            self.producer.poll(0.1)

    def _report(self, err, msg):
        if err is not None:
            self.errors += 1
            sys.stderr.write("misp_server: kafka delivery failed: %s\n" % err)

    def publish(self, name, obj):
        if obj.get("action") in ("", None):
            obj = {k: v for k, v in obj.items() if k != "action"}
        value = php_json_escaped(obj).encode("ascii")
        deadline = time.monotonic() + 5.0      # never block the REST handler forever
        while True:
            try:
                self.producer.produce(self.topics[name], value=value, key=None,
                                      on_delivery=self._report)
                break
            except BufferError:
                if time.monotonic() > deadline:
                    self.errors += 1
                    sys.stderr.write("misp_server: kafka queue full, dropped\n")
                    return
                self.producer.poll(0.1)
        self.producer.poll(0)

    def publish_zmq(self, topic, obj):
        name = KAFKA_FROM_ZMQ.get(topic)
        if name:
            self.publish(name, obj)

    def close(self, timeout=5.0):
        self.stop.set()
        self.poller.join(timeout=timeout)
        left = self.producer.flush(timeout)
        if left:
            sys.stderr.write("misp_server: %d kafka messages undelivered\n" % left)


READ_ONLY_CONTROL = {"sightings", "requests", "stats", "fail", "shutdown", "zmq/stop", "zmq/start",
                     "sightings/outage", "sightings/delay"}
OUTAGE_HTML = ("<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n"
               "<title>%d Service Unavailable</title>\n</head><body>\n"
               "<h1>Service Unavailable</h1>\n</body></html>\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: the headers and the body leave in two writes (_send), and with Nagle
    # the body waits for the client's delayed ACK of the headers: 40 ms per keep-alive
    # request, which capped batched sightings at ~8,000/s and one-per-request at ~25/s.
    disable_nagle_algorithm = True

    def version_string(self):
        return "Apache"

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            sys.stderr.write("misp_server: " + (fmt % args) + "\n")

    def _send(self, status, body, headers=None, ctype="application/json; charset=UTF-8"):
        """`body`: str, bytes, or a list of bytes-like buffers sent one after the
        other (scatter-gather: a 40 MB page is never copied into one string)."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        parts = body if isinstance(body, list) else [body]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(sum(len(p) for p in parts)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()              # unbuffered wfile: the headers are out
        if len(parts) == 1:
            self.wfile.write(parts[0])
            return
        sock, i = self.connection, 0
        while i < len(parts):
            batch = parts[i:i + 512]    # IOV_MAX is 1024
            n = sock.sendmsg(batch)
            for b in batch:             # skip what went out; resume a partial buffer
                if n >= len(b):
                    n -= len(b)
                    i += 1
                else:
                    parts[i] = memoryview(b)[n:]
                    break

    def _error(self, status, message):
        path = urlsplit(self.path).path
        self._send(status, php_json_escaped({"name": message, "message": message,
                                             "url": path}))

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        app = self.server.app
        raw = self._body()
        path = urlsplit(self.path).path
        try:
            if app.refusing.is_set():
                # a keep-alive connection from before the outage: drop it unanswered
                self.close_connection = True
                return
            if path.startswith("/_control/"):
                return self._control(method, path, raw)
            sighting = path == "/sightings/add" or path.startswith("/sightings/add/")
            with app.misp.lock:
                app.requests.append({"method": method, "path": path,
                                     "body": raw.decode("utf-8", "replace")})
                if app.fail_count > 0:
                    app.fail_count -= 1
                    status = app.fail_status
                    return self._error(status, "Injected failure (misp_server.py)")
                outage = sighting and time.monotonic() < app.outage_until
                delay = app.sighting_delay if sighting else 0.0
            if outage:                  # what a proxy in front of a down MISP sends
                return self._send(app.outage_status, OUTAGE_HTML % app.outage_status,
                                  ctype="text/html; charset=iso-8859-1")
            if delay > 0:
                time.sleep(delay)
            key = self._auth()
            if key is None:
                return self._error(403, AUTH_FAILED)
            self._rest(method, path, raw, key)
        except Error as e:
            self._error(e.status, e.message)

    def _auth(self):
        hdr = self.headers.get("X-MISP-AUTH")
        if hdr is None:
            hdr = self.headers.get("Authorization")
        if not hdr:
            return None
        for k in hdr.split(","):
            k = k.strip()
            if k.startswith("Basic") or not KEY_RE.match(k):
                continue
            if k in self.server.app.misp.keys:
                return k
        return None

    def _json_body(self, raw):
        if not raw.strip():
            return None
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise Error(405, INVALID_JSON)

    def _rest(self, method, path, raw, key):
        m = self.server.app.misp
        if path in ("/attributes/restSearch", "/attributes/restSearch/json") or \
                path.startswith("/attributes/restSearch/"):
            named = _named_params(path)
            if method == "GET":
                q = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                if not q and not named:
                    raise Error(400, GET_NO_PARAMS)
                f = q
            else:
                f = self._json_body(raw) or {}
                if not isinstance(f, dict):
                    raise Error(405, INVALID_JSON)
                if isinstance(f.get("request"), dict):
                    f = f["request"]
            f = dict(f, **named)
            force = self.headers.get("X-Test-Search-Path")    # self-test only
            with m.lock:
                body, count, used = m.rest_search_body(f, force)
            headers = {"X-Result-Count": str(count), "X-Export-Module-Used": "json",
                       "X-Response-Format": "json", "X-Skipped-Elements-Count": "0"}
            if force is not None:
                headers["X-Test-Search-Path"] = used
            return self._send(200, body, headers)
        if path == "/sightings/add" or path.startswith("/sightings/add/"):
            if method != "POST":
                raise Error(405, "Method not allowed")
            p = self._json_body(raw) or {}
            if not isinstance(p, dict):
                raise Error(405, INVALID_JSON)
            for w in ("request", "Sighting"):
                if isinstance(p.get(w), dict):
                    p = p[w]
            tail = path[len("/sightings/add/"):] if path.startswith("/sightings/add/") else ""
            if tail:
                p = dict(p, id=tail)
            with m.lock:
                res = m.sightings_add(p, key)
            ua = self.headers.get("User-Agent") or ""
            compact = ua.startswith("PyMISP") or ua.startswith("MISP")
            return self._send(200, php_json_escaped(res) if compact else php_json_pretty(res))
        if path in ("/servers/getVersion", "/servers/getVersion.json"):
            perms = m.keys[key]
            return self._send(200, php_json_escaped({
                "version": "2.5.1", "pymisp_recommended_version": "2.5.1",
                "perm_sync": perms["perm_sync"], "perm_sighting": perms["perm_sighting"],
                "perm_galaxy_editor": False, "perm_analyst_data": True, "uuid": "-",
                "request_encoding": ["gzip", "br"], "filter_sightings": True}))
        if path == "/servers/getPyMISPVersion.json":
            return self._send(200, php_json_escaped({"version": "2.5.1"}))
        fixture = {"/users/view/me": "rest/derived/users-view-me-response.json",
                   "/users/view/me.json": "rest/derived/users-view-me-response.json",
                   "/attributes/describeTypes.json": "pymisp/describeTypes.json"}.get(path)
        if fixture:
            with open(os.path.join(FIXTURES, fixture), "rb") as fh:
                return self._send(200, fh.read())
        raise Error(404, "Not Found")

    def _control(self, method, path, raw):
        app = self.server.app
        m = app.misp
        try:
            p = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise Error(400, "control: invalid JSON")
        name = path[len("/_control/"):]
        actions = {
            "org": lambda: m.add_org(p["name"], p.get("uuid")),
            "key": lambda: m.add_key(p["key"], p.get("org_id", "1"),
                                     p.get("perm_sighting", True), p.get("perm_sync", False)),
            "event": lambda: m.ctl_event(p),
            "event/tag": lambda: m.ctl_tag_event(p, True),
            "event/untag": lambda: m.ctl_tag_event(p, False),
            "event/publish": lambda: m.ctl_publish(p),
            "event/delete": lambda: m.ctl_delete_event(p),
            "attribute": lambda: m.ctl_attribute(p),
            "attribute/edit": lambda: m.ctl_edit(p),
            "attribute/tag": lambda: m.ctl_tag_attr(p, True),
            "attribute/untag": lambda: m.ctl_tag_attr(p, False),
            "attribute/soft-delete": lambda: m.ctl_soft_delete(p),
            "attribute/delete": lambda: m.ctl_delete(p),
            "sightings": lambda: list(m.sightings),
            "requests": lambda: list(app.requests),
            "fail": lambda: app.set_fail(int(p.get("count", 1)), int(p.get("status", 503))),
            "sightings/outage": lambda: app.set_outage(float(p.get("seconds", 30)),
                                                       p.get("mode", "status"),
                                                       int(p.get("status", 503))),
            "sightings/delay": lambda: app.set_delay(float(p.get("seconds", 0))),
            "stats": lambda: m.stats(),
            "zmq/stop": lambda: app.pub.control("stop"),
            "zmq/start": lambda: app.pub.control("start"),
            "shutdown": lambda: {"ok": True},
        }
        if name not in actions:
            raise Error(404, "unknown control action")
        if name == "sightings/outage" and p.get("mode") == "refuse":
            # closed before the answer: once a test has it, connects are refused
            try:
                res = app.refuse(float(p.get("seconds", 30)))
            except ValueError as e:
                raise Error(400, "control: %s" % e)
            self._send(200, php_json(res))
            self.close_connection = True
            return
        try:
            with m.lock:
                if name not in READ_ONLY_CONTROL:
                    m.invalidate()
                res = actions[name]()
        except KeyError as e:
            raise Error(400, "control: missing field %s" % e)
        except ValueError as e:
            raise Error(400, "control: %s" % e)
        self._send(200, php_json(res if res is not None else {"ok": True}))
        if name == "shutdown":          # only after the answer is written
            self.wfile.flush()
            app.stopping.set()


class App:
    def __init__(self, args):
        self.verbose = args.verbose
        self.ctx = zmq.Context()
        self.auth = None
        plain = None
        if args.zmq_user:
            # As mispzmq.py: a ThreadAuthenticator (ZAP handler) for PLAIN on domain '*' with
            # the one user; without a ZAP handler libzmq would admit any PLAIN client.
            from zmq.auth.thread import ThreadAuthenticator
            self.auth = ThreadAuthenticator(self.ctx)
            self.auth.start()
            self.auth.configure_plain(domain="*", passwords={args.zmq_user: args.zmq_password})
            plain = (args.zmq_user, args.zmq_password)
        self.pub = Publisher(self.ctx, args.zmq_port, args.heartbeat, args.heartbeat_spaced, plain)
        self.kafka = None
        if args.kafka_bootstrap:
            self.kafka = KafkaPub(args.kafka_bootstrap, dict(args.kafka_topic),
                                  args.verbose)
            kafka = self.kafka

            def fanout(topic, obj):
                self.pub.publish(topic, obj)
                kafka.publish_zmq(topic, obj)
            self.misp = Misp(fanout, kafka.publish)
        else:
            self.misp = Misp(self.pub.publish)
        if args.preload:
            n, ne, dt = self.misp.preload(args.preload)
            sys.stderr.write("misp_server: preloaded %d attributes in %d events from %s "
                             "in %.1f s\n" % (n, ne, args.preload, dt))
        self.requests = []
        self.fail_count = 0
        self.fail_status = 503
        self.stopping = threading.Event()
        self.outage_until = 0.0         # monotonic; /sightings/add answers outage_status
        self.outage_status = 503
        self.sighting_delay = 0.0
        self.refusing = threading.Event()
        self.httpd_lock = threading.Lock()
        self.httpd = self._listen(args.rest_port)

    def _listen(self, port):
        httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        httpd.daemon_threads = True
        httpd.app = self
        return httpd

    def _serve(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def set_outage(self, seconds, mode, status):
        if mode != "status":            # "refuse" is App.refuse
            raise ValueError("mode must be status or refuse")
        if not 500 <= status <= 599:
            raise ValueError("status must be 5xx")
        self.outage_until = time.monotonic() + seconds
        self.outage_status = status
        return {"mode": mode, "seconds": seconds, "status": status}

    def set_delay(self, seconds):
        self.sighting_delay = max(0.0, seconds)
        return {"seconds": self.sighting_delay}

    def refuse(self, seconds):
        """Close the REST port (connection refused, control plane included) now, and
        listen again on the same port after `seconds` (a thread)."""
        with self.httpd_lock:
            if self.refusing.is_set() or self.stopping.is_set():
                raise ValueError("already refusing")
            self.refusing.set()
            port = self.httpd.server_address[1]
            self.httpd.shutdown()
            self.httpd.server_close()
        threading.Thread(target=self._relisten, args=(port, seconds), daemon=True).start()
        return {"mode": "refuse", "seconds": seconds, "status": 0}

    def _relisten(self, port, seconds):
        if self.stopping.wait(seconds):
            return
        with self.httpd_lock:
            for _ in range(50):         # the port may linger briefly
                try:
                    self.httpd = self._listen(port)
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                sys.stderr.write("misp_server: cannot listen on %d again\n" % port)
                self.stopping.set()
                return
            self.refusing.clear()
            self._serve()

    def set_fail(self, count, status):
        self.fail_count, self.fail_status = count, status
        return {"count": count, "status": status}

    def run(self, watch_stdin):
        self.pub.start()
        self._serve()
        if watch_stdin:
            def watch():
                try:
                    while os.read(0, 4096):     # unbuffered: no lock held at exit
                        pass
                except (OSError, ValueError):
                    pass
                self.stopping.set()
            threading.Thread(target=watch, daemon=True).start()
        print("READY rest=%d zmq=%d key=%s" % (self.httpd.server_address[1], self.pub.port,
                                               DEFAULT_KEY), flush=True)
        while not self.stopping.wait(0.2):
            pass
        with self.httpd_lock:
            if not self.refusing.is_set():
                self.httpd.shutdown()
                self.httpd.server_close()
        self.pub.stop.set()
        self.pub.q.put(None)
        self.pub.join(timeout=5)
        if self.kafka:
            self.kafka.close()
        if self.auth:
            self.auth.stop()
        self.ctx.term()


def _kafka_topic(spec):
    name, sep, topic = spec.partition("=")
    if not sep or name not in KAFKA_NAMES or not topic:
        raise argparse.ArgumentTypeError("expected NAME=TOPIC with NAME in "
                                         + ",".join(KAFKA_NAMES))
    return name, topic


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rest-port", type=int, default=0)
    ap.add_argument("--zmq-port", type=int, default=0)
    ap.add_argument("--heartbeat", type=float, default=10.0,
                    help="seconds of idle before each misp_json_self (MISP: 10)")
    ap.add_argument("--zmq-user", help="require ZMQ PLAIN authentication with this user "
                    "(Plugin.ZeroMQ_username); needs --zmq-password")
    ap.add_argument("--zmq-password", default="", help="Plugin.ZeroMQ_password")
    ap.add_argument("--heartbeat-spaced", action="store_true",
                    help="encode the heartbeat with json.dumps' spaced separators "
                         "(mispzmq.py without orjson)")
    ap.add_argument("--no-stdin-watch", action="store_true",
                    help="do not exit when stdin reaches EOF")
    ap.add_argument("--kafka-bootstrap", metavar="HOST:PORT",
                    help="also produce to Kafka as MISP's KafkaPubTool does (§2)")
    ap.add_argument("--kafka-topic", metavar="NAME=TOPIC", action="append", default=[],
                    type=_kafka_topic,
                    help="Plugin.Kafka_<NAME>_notifications_topic override, e.g. "
                         "attribute=my_attrs (repeatable)")
    ap.add_argument("--preload", metavar="FILE",
                    help="load a restSearch-shaped JSON file ({\"response\":{\"Attribute\":"
                         "[...]}}, items with Event context, e.g. bench/gen_misp.py output) "
                         "into the state before listening; no ZeroMQ messages")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.zmq_user and not args.zmq_password:
        ap.error("--zmq-user needs a non-empty --zmq-password (as MISP requires)")
    app = App(args)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: app.stopping.set())
    app.run(not args.no_stdin_watch)
    return 0


if __name__ == "__main__":
    sys.exit(main())

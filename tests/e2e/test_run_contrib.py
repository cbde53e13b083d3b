# SPDX-License-Identifier: Apache-2.0
"""contrib/suricata and contrib/zeek agree with what the exports write.

Statically: every `dataset:` / `datarep:` / `iprep:` of contrib/suricata/misp.rules
names a set declared in suricata-iocbus.yaml (or loaded by the rule) with the
type, file and category an export of iocbus-exports.yaml writes; the socket
is the one Suricata listens on. Then live: `iocbus run` with those exports
(paths moved into a temporary directory) and the Suricata socket double
holding exactly the YAML's sets: a MISP domain, tagged address and user agent
reach every file in the format its reader takes, the socket answers no NOK
(set names and types agree), and the Zeek file's columns are those
contrib/zeek/iocbus.zeek makes Zeek read (meta.remove needs the removal
policy it loads).
"""
import base64
import ipaddress
import os
import re
import sys
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import Iocbus, Misp, wait_until  # noqa: E402
from test_run_export import read  # noqa: E402
from test_run_suricata import SuricataSock  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SUR = os.path.join(ROOT, "contrib", "suricata")
ZEEK_SCRIPT = os.path.join(ROOT, "contrib", "zeek", "iocbus.zeek")

# Zeek's Intel::Item columns with only base/frameworks/intel loaded, and the policy each other one needs.
ZEEK_BASE = {"indicator", "indicator_type", "meta.source", "meta.desc", "meta.url"}
ZEEK_POLICY = {"meta.remove": "policy/frameworks/intel/removal",
               "meta.do_notice": "policy/frameworks/intel/do_notice",
               "meta.if_in": "policy/frameworks/intel/do_notice",
               "meta.whitelist": "policy/frameworks/intel/whitelist"}


def load_yaml(name):
    with open(os.path.join(SUR, name)) as f:
        return yaml.safe_load(f)


def rule_keywords():
    """(keyword, [args]) of every dataset/datarep/iprep option in misp.rules."""
    out = []
    with open(os.path.join(SUR, "misp.rules")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            for kw, args in re.findall(r"\b(dataset|datarep|iprep):([^;]*);", line):
                out.append((kw, [a.strip() for a in args.split(",")]))
    return out


def options(args):
    """{'type': 'string', 'load': 'x'} from ['type string', 'load x']."""
    return dict(a.split(None, 1) for a in args if " " in a)


class ContribTest(unittest.TestCase):
    def setUp(self):
        self.sy = load_yaml("suricata-iocbus.yaml")
        self.exports = load_yaml("iocbus-exports.yaml")["exports"]
        self.by_path = {e["path"]: e for e in self.exports}

    def test_rules_yaml_and_exports_agree(self):
        sets = {k: v for k, v in self.sy["datasets"].items() if k != "defaults"}
        kws = rule_keywords()
        self.assertTrue(any(k == "dataset" for k, _ in kws) and any(k == "datarep" for k, _ in kws))
        socket = self.sy["unix-command"]["filename"]
        for kw, args in kws:
            if kw == "dataset":
                name, opt = args[1], options(args[2:])
                self.assertIn(name, sets, "dataset %s not declared in the YAML" % name)
                self.assertEqual(opt["type"], sets[name]["type"], name)
                e = self.by_path[sets[name]["load"]]
                self.assertEqual((e["format"], e["dataset_type"]), ("suricata-dataset", opt["type"]), name)
                self.assertEqual(e.get("dataset", e["name"]), name)
                self.assertEqual(e["socket"], socket)
                self.assertFalse(e.get("datarep"))
            elif kw == "datarep":
                name, opt = args[0], options(args[3:])
                e = [x for x in self.exports if x.get("datarep")][0]
                self.assertEqual(os.path.basename(e["path"]), opt["load"])
                self.assertEqual((e["name"], e["dataset_type"]), (name, opt["type"]))
                self.assertTrue(0 < e["datarep"] <= 65535 and int(args[2]) < e["datarep"])
            else:
                cat = args[1]
                e = [x for x in self.exports if x["format"] == "suricata-iprep"][0]
                names = {v.split(",")[1] for v in e["iprep_rules"].values()}
                self.assertIn(cat, names)
                self.assertEqual(e["iprep_categories"], self.sy["reputation-categories-file"])
                self.assertEqual(e["socket"], socket)
                self.assertEqual(e["path"], os.path.join(self.sy["default-reputation-path"],
                                                         self.sy["reputation-files"][0]))
        with open(ZEEK_SCRIPT) as f:
            script = f.read()
        zeek = [e for e in self.exports if e["format"] == "zeek"][0]
        self.assertIn('redef Intel::read_files += { "%s" };' % zeek["path"], script)

    def test_what_iocbus_writes_is_what_they_read(self):
        misp = Misp(heartbeat=1)
        self.addCleanup(misp.close)
        d = Iocbus({"misp": misp.misp_config(zmq=True)}, start=False)
        self.addCleanup(d.close)
        w = d.workdir
        sock = os.path.join(w, "suricata.sock")
        move = lambda p: os.path.join(w, os.path.basename(p))  # noqa: E731
        exports = []
        for e in self.exports:
            e = dict(e, debounce="200ms", path=move(e["path"]))
            if "socket" in e:
                e["socket"] = sock
            if "iprep_categories" in e:
                e["iprep_categories"] = move(e["iprep_categories"])
            exports.append(e)
        sets = ["%s:%s" % (k, v["type"]) for k, v in self.sy["datasets"].items() if k != "defaults"]
        sur = SuricataSock(sock, os.path.join(w, "commands.log"), busy=0, sets=sets)
        self.addCleanup(sur.close)
        cfg = dict(d.config, exports=exports)
        d.write_config(cfg)
        d.start()
        ev = misp.control("event", info="contrib")
        misp.attribute(ev, "domain", "evil.example")
        misp.attribute(ev, "ip-dst", "198.51.100.7", tags=["kill-chain:Command and Control"])
        misp.attribute(ev, "user-agent", "EvilBot/1.0")
        files = {e["name"]: e["path"] for e in exports}
        wait_until(lambda: all(read(p) for p in files.values()) and "198.51.100.7" in read(files["iprep"]) and
                   "EvilBot" in base64.b64decode(read(files["misp-user-agents"]) or "").decode(errors="replace"),
                   what="every file written")
        # datasets: one item a line, each as Suricata decodes its type (§3.2)
        for e in exports:
            if e["format"] != "suricata-dataset":
                continue
            lines = read(e["path"]).split("\n")
            self.assertEqual(lines[-1], "", e["name"])
            for line in lines[:-1]:
                item, _, rep = line.partition(",")
                if e.get("datarep"):
                    self.assertEqual(int(rep), e["datarep"])
                if e["dataset_type"] == "string":
                    base64.b64decode(item, validate=True)
                else:
                    ipaddress.ip_address(item)
        self.assertEqual(base64.b64decode(read(files["misp-domains-rep"]).split(",")[0]), b"evil.example")
        # iprep: every category of a line is in the categories file, and the rules' names are there
        cats = {int(x.split(",")[0]): x.split(",")[1] for x in read(exports[4]["iprep_categories"]).splitlines()}
        used = {cats[int(x.split(",")[1])] for x in read(files["iprep"]).splitlines()}
        self.assertEqual(used, {"MISP", "MISP-C2"})
        for kw, args in rule_keywords():
            if kw == "iprep":
                self.assertIn(args[1], cats.values())
        # the socket took every command: the sets and types exist in the "Suricata" of the YAML
        for e in exports:
            if "socket" in e and e["format"] == "suricata-dataset" and not e.get("datarep"):
                wait_until(lambda: d.metric("iocbus_export_socket_commands_total", export=e["name"]),
                           what="commands on " + e["name"])
                self.assertEqual(d.metric("iocbus_export_socket_nok_total", export=e["name"]), 0, e["name"])
        # zeek: the header's columns are Zeek's with the policies the script loads
        with open(ZEEK_SCRIPT) as f:
            loads = set(re.findall(r"^@load\s+(\S+)", f.read(), re.M))
        header = read(files["zeek"]).split("\n")[0].split("\t")
        self.assertEqual(header[0], "#fields")
        self.assertIn("meta.remove", header)
        for col in header[1:]:
            self.assertTrue(col in ZEEK_BASE or ZEEK_POLICY.get(col) in loads, col)
        # the iprep and datarep rewrites asked Suricata to reload its rules (once: at most once a minute)
        wait_until(lambda: d.metric("iocbus_export_socket_rule_reloads_total") == 1, what="rule reload")
        self.assertEqual(d.term(), 0)


if __name__ == "__main__":
    unittest.main()

# SPDX-License-Identifier: Apache-2.0
"""Property checks of `iocbus enrich` output, driven by enrich_property.sh.

  enrich_property.py mangle --seed N --out FILE INPUT...
      write deterministic broken variants of lines of the inputs (truncated,
      bytes flipped, deleted or duplicated, invalid UTF-8) plus a few
      hand-picked edge cases and over-long lines
  enrich_property.py check [--mark] [--max-hits N] [--max-line N] INPUT OUTPUT
      check OUTPUT (what enrich wrote for INPUT) line by line:
      - same number of lines, in the same order;
      - a line that is not a valid JSON object is copied byte for byte;
      - an unchanged line is fine (a miss); with --mark every valid event
        within the limits must change (at least misp.hit false);
      - a changed line parses as JSON without duplicate keys at any level and
        equals its input once the appended threat.enrichments and the misp
        keys are removed; each appended enrichment is well formed, names an
        event field whose value is (part of) matched.atomic, and its id is
        one of misp.attributes;
      - when the input had neither threat nor misp, the output is the input
        with text inserted just before its final closing brace.
Exits 1 with one message per broken line (at most 20), 0 otherwise.
"""
import argparse
import json
import random
import sys

INDICATOR_TYPES = {'ipv4-addr', 'ipv6-addr', 'domain-name', 'url', 'file', 'email-addr', 'x509-certificate',
                   'autonomous-system', 'mac-addr'}
MISP_KEYS = {'hit', 'tag', 'eventinfo', 'attributes'}


class Dup(ValueError):
    pass


def no_dups(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise Dup('duplicate key %r' % k)
        seen[k] = v
    return seen


def bad_constant(name):
    raise ValueError('not JSON: %s' % name)


def parse(b):
    """The parsed value of a line, or raise ValueError (incl. duplicate keys)."""
    s = b.decode('utf-8')  # strict: invalid UTF-8 is not JSON
    return json.loads(s, object_pairs_hook=no_dups, parse_constant=bad_constant)


def depth(v):
    if isinstance(v, dict):
        return 1 + max((depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((depth(x) for x in v), default=0)
    return 0


def lines_of(data):
    """Split on '\\n' only (a CR stays part of its line); no empty tail."""
    parts = data.split(b'\n')
    if parts and parts[-1] == b'':
        parts.pop()
    return parts


# ------------------------------------------------------------------ mangle

def mangle(args):
    rnd = random.Random(args.seed)
    pool = []
    for path in args.inputs:
        with open(path, 'rb') as f:
            pool.extend(l for l in lines_of(f.read()) if l.strip())
    out = []
    for _ in range(args.count):
        line = bytearray(rnd.choice(pool))
        what = rnd.randrange(7)
        if what == 0 and len(line) > 1:                       # truncated
            line = line[:rnd.randrange(1, len(line))]
        elif what == 1:                                      # random bytes replaced
            for _ in range(rnd.randrange(1, 4)):
                p = rnd.randrange(len(line))
                c = rnd.randrange(256)
                line[p] = c if c != 0x0a else 0x20
        elif what == 2:                                      # a byte deleted
            del line[rnd.randrange(len(line))]
        elif what == 3:                                      # a slice duplicated
            a = rnd.randrange(len(line))
            b = rnd.randrange(a, min(len(line), a + 40) + 1)
            line[b:b] = line[a:b]
        elif what == 4:                                      # invalid UTF-8 inside
            p = rnd.randrange(len(line))
            line[p:p] = rnd.choice([b'\xff', b'\xc3', b'\xed\xa0\x80', b'\xf4\x90\x80\x80'])
        elif what == 5:                                      # structural character swapped
            idx = [i for i, c in enumerate(line) if c in b'{}[]:,"']
            if idx:
                p = rnd.choice(idx)
                line[p] = rnd.choice(b'{}[]:,"x')
        # what == 6: kept intact (a valid line among broken ones)
        out.append(bytes(line))
    # Hand-picked edge cases.
    out += [b'', b'   ', b'\t', b'{}', b' {} ', b'{"a":1}\r', b'[]', b'"x"', b'1e999', b'nul', b'{"a":NaN}',
            b'{"a":"\\ud800"}', b'{"a":"\\u0000"}', b'{"source":{"ip":"203.0.113.77"}}\r',
            b'{"source":{"ip":"203.0.113.77"},"source":{"ip":"192.0.2.1"}}',
            b'{"source.ip":"203.0.113.77","source":{"ip":"203.0.113.77"}}',
            b'{"a":' + b'[' * 100 + b']' * 100 + b',"source":{"ip":"203.0.113.77"}}',
            b'{"threat":"x","misp":[1],"source":{"ip":"203.0.113.77"}}',
            b'{"threat":{"enrichments":[1,"x",null]},"misp":{"hit":false,"x":1},"source":{"ip":"203.0.113.77"}}']
    # Over-long valid events that would hit (rejected as too_long with a small --max-line).
    for n in (5000, 20000):
        out.append(b'{"pad":"' + b'a' * n + b'","destination":{"ip":"203.0.113.77"}}')
    with open(args.out, 'wb') as f:
        for l in out:
            f.write(l + b'\n')


# ------------------------------------------------------------------ check

def field_values(event, path):
    """Every scalar reachable by dotted `path` in event (nested, flat dotted keys, arrays)."""
    path = path.replace('[]', '')
    found = []

    def walk(v, rest):
        if isinstance(v, list):
            for x in v:
                walk(x, rest)
            return
        if not rest:
            if isinstance(v, (str, int, float)) and not isinstance(v, bool):
                found.append(v)
            return
        if not isinstance(v, dict):
            return
        parts = rest.split('.')
        for n in range(1, len(parts) + 1):
            key = '.'.join(parts[:n])
            if key in v:
                walk(v[key], '.'.join(parts[n:]))

    walk(event, path)
    return found


def check_enrichment(en, event, attr_ids, where, errs):
    if not isinstance(en, dict):
        errs.append('%s: enrichment is not an object' % where)
        return
    ind, m = en.get('indicator'), en.get('matched')
    # No ECS type fits ja3 or user agents: those indicators carry none.
    if not isinstance(ind, dict) or not ind.get('name') or \
            ('type' in ind and ind['type'] not in INDICATOR_TYPES):
        errs.append('%s: bad indicator %r' % (where, ind))
    if not isinstance(m, dict):
        errs.append('%s: no matched object' % where)
        return
    for k in ('atomic', 'field', 'type', 'id', 'occurred'):
        if k not in m:
            errs.append('%s: matched.%s missing' % (where, k))
    if m.get('id') not in attr_ids:
        errs.append('%s: matched.id %r not in misp.attributes' % (where, m.get('id')))
    field, atomic = m.get('field'), m.get('atomic')
    if not isinstance(field, str):
        return
    # The atomic is the field's value, or the part that matched (a host
    # without its port), or a URL composed from it and its host field.
    vals = [str(v).lower() for v in field_values(event, field)]
    a = str(atomic).lower()
    if not vals:
        errs.append('%s: matched.field %r not in the event' % (where, field))
    elif not any(v and (v in a or a in v) for v in vals):
        errs.append('%s: matched.atomic %r is not the value of %s (%r)' % (where, atomic, field, vals[:3]))


def classify(b, opts):
    """('invalid'|'nonobject'|'uncertain'|'event', parsed value). 'uncertain': valid
    JSON that an engine may still refuse (duplicate keys, lone surrogates, past
    the nesting or length caps)."""
    try:
        v = json.loads(b.decode('utf-8'), parse_constant=bad_constant)
    except (ValueError, RecursionError):
        return 'invalid', None
    if not isinstance(v, dict):
        return 'nonobject', v
    try:
        parse(b)
    except Dup:
        return 'uncertain', v
    if len(b) > opts.max_line or depth(v) > 64 or has_surrogate(v):
        return 'uncertain', v
    return 'event', v


def has_surrogate(v):
    if isinstance(v, dict):
        return any(has_surrogate(k) or has_surrogate(x) for k, x in v.items())
    if isinstance(v, list):
        return any(has_surrogate(x) for x in v)
    return isinstance(v, str) and any(0xd800 <= ord(c) <= 0xdfff for c in v)


def check_line(n, inp, out, opts, errs):
    where = 'line %d' % n
    status, ev = classify(inp, opts)
    if out == inp:
        if opts.mark and status == 'event':
            errs.append('%s: valid event left unmarked with --on-miss mark' % where)
        return
    if status in ('invalid', 'nonobject'):
        errs.append('%s: changed, but the input is not a valid JSON object: %r' % (where, inp[:80]))
        return
    try:
        o = parse(out) if status == 'event' else json.loads(out.decode('utf-8'))
    except (ValueError, RecursionError) as e:
        errs.append('%s: output is not valid JSON without duplicate keys (%s): %r' % (where, e, out[:120]))
        return
    if not isinstance(o, dict):
        errs.append('%s: output is not an object' % where)
        return
    if status != 'event':
        return
    misp = o.get('misp')
    if not isinstance(misp, dict) or not isinstance(misp.get('hit'), bool):
        errs.append('%s: changed but misp.hit missing' % where)
        return
    # threat: the appended part of threat.enrichments.
    appended = []
    ti, to = ev.get('threat'), o.get('threat')
    if misp['hit']:
        if not isinstance(to, dict) or not isinstance(to.get('enrichments'), list):
            errs.append('%s: hit without threat.enrichments array' % where)
            return
        old = ti.get('enrichments') if isinstance(ti, dict) else None
        if isinstance(old, dict):
            old = [old]  # one object stands for an array of one (as in Elasticsearch)
        keep = len(old) if isinstance(old, list) else 0
        if isinstance(old, list) and to['enrichments'][:keep] != old:
            errs.append('%s: existing threat.enrichments changed' % where)
        appended = to['enrichments'][keep:]
        if not appended:
            errs.append('%s: misp.hit true but nothing appended' % where)
        if opts.max_hits and len(appended) > opts.max_hits:
            errs.append('%s: %d enrichments > --max-hits %d' % (where, len(appended), opts.max_hits))
        if isinstance(ti, dict):
            for k, v in ti.items():
                if k != 'enrichments' and to.get(k) != v:
                    errs.append('%s: threat.%s changed' % (where, k))
        attrs = misp.get('attributes')
        if not isinstance(attrs, list) or not attrs:
            errs.append('%s: misp.attributes missing' % where)
            attrs = []
        ids = {a.get('uuid') for a in attrs if isinstance(a, dict)}
        for k, en in enumerate(appended):
            check_enrichment(en, ev, ids, '%s enrichment %d' % (where, k), errs)
        if not isinstance(misp.get('tag'), list) or not isinstance(misp.get('eventinfo'), list):
            errs.append('%s: misp.tag / misp.eventinfo not arrays' % where)
    else:
        if not opts.mark:
            errs.append('%s: misp.hit false without --on-miss mark' % where)
        if to != ti:
            errs.append('%s: a marked miss changed threat' % where)
    if isinstance(ev.get('misp'), dict):
        for k, v in ev['misp'].items():
            if k not in MISP_KEYS and misp.get(k) != v:
                errs.append('%s: misp.%s changed' % (where, k))
    # Everything else is untouched.
    strip_o = {k: v for k, v in o.items() if k not in ('threat', 'misp')}
    strip_i = {k: v for k, v in ev.items() if k not in ('threat', 'misp')}
    if strip_o != strip_i:
        errs.append('%s: fields other than threat/misp changed' % where)
    if 'threat' not in ev and 'misp' not in ev:
        k = inp.rindex(b'}')
        tail = inp[k:]
        if not (out.startswith(inp[:k]) and out.endswith(tail) and len(out) > len(inp)):
            errs.append('%s: not the input with text spliced in before its final brace' % where)


def check(args):
    with open(args.input, 'rb') as f:
        inp_data = f.read()
    with open(args.output, 'rb') as f:
        out_data = f.read()
    a, b = lines_of(inp_data), lines_of(out_data)
    errs = []
    if len(a) != len(b):
        errs.append('%d input lines, %d output lines' % (len(a), len(b)))
    if inp_data.endswith(b'\n') and not out_data.endswith(b'\n'):
        errs.append('final newline lost')
    hits = 0
    for n, (x, y) in enumerate(zip(a, b), 1):
        if x != y:
            hits += 1
        k = len(errs)
        check_line(n, x, y, args, errs)
        if len(errs) > k:
            errs.append('line %d was: %r' % (n, x[:160]))
    for e in errs[:20]:
        print('%s: %s' % (args.input, e))
    if len(errs) > 20:
        print('%s: ... %d more' % (args.input, len(errs) - 20))
    nprob = sum(1 for e in errs if ' was: ' not in e)
    print('%s: %d lines, %d changed, %d problems' % (args.input, len(a), hits, nprob))
    return 1 if errs else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('mangle')
    m.add_argument('--seed', type=int, required=True)
    m.add_argument('--count', type=int, default=600)
    m.add_argument('--out', required=True)
    m.add_argument('inputs', nargs='+')
    c = sub.add_parser('check')
    c.add_argument('--mark', action='store_true')
    c.add_argument('--max-hits', type=int, default=0)
    c.add_argument('--max-line', type=int, default=1 << 20)
    c.add_argument('input')
    c.add_argument('output')
    args = ap.parse_args()
    if args.cmd == 'mangle':
        mangle(args)
        return 0
    return check(args)


if __name__ == '__main__':
    sys.exit(main())

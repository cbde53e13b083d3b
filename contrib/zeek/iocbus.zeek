# SPDX-License-Identifier: Apache-2.0
##! Read the Zeek Intel file iocbus keeps current (exports[] format zeek,
##! docs/EXPORTS.md), with removals.
##!
##! Zeek keeps an Intel item when its line leaves the file (exports.md §2.4).
##! With `removals_keep` set, iocbus writes a removed indicator for that long
##! as a line whose `meta.remove` column is T; Zeek's removal policy, loaded
##! here, turns such a line into Intel::remove() of that source's metadata
##! (the indicator goes when no source is left). Without this policy Zeek
##! ignores the column and would insert those lines instead: load this
##! script wherever the file is read (the manager, or a standalone Zeek).
##!
##! Columns iocbus writes: indicator, indicator_type, meta.source,
##! meta.desc, meta.url, and meta.remove with removals_keep.
##!
##! Use: `zeek ... /etc/iocbus/iocbus.zeek`, or `@load` it from local.zeek;
##! change the path below to the export's `path`.

@load base/frameworks/intel
@load policy/frameworks/intel/seen
@load policy/frameworks/intel/removal

redef Intel::read_files += { "/var/lib/iocbus/misp.intel" };

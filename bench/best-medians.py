#!/usr/bin/env python3
"""Best median GFLOP/s per (implementation, case) over logs written by measure-when-idle.sh."""
import re,sys,collections
best=collections.defaultdict(list)
cur=None
for f in sys.argv[1:]:
    for line in open(f):
        m=re.match(r'== \S+ idle=(\d+) (ours (?:EXP|kernel)=(\S+)|torch)',line)
        if m:
            cur = 'torch' if m.group(2)=='torch' else 'ours-'+m.group(3); continue
        m=re.match(r'(\S+ \d+\^3 .*?)\s+median\s+([\d.]+)',line)
        if m and cur:
            name=m.group(1).strip().lower()
            best[(cur,name)].append(float(m.group(2)))
for k in sorted(best):
    v=sorted(best[k],reverse=True)
    print(f"{k[0]:<12} {k[1]:<28} n={len(v):3d} best-median={v[0]:6.1f}  top3={v[:3]}")

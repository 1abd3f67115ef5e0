# -*- coding: utf-8 -*-
"""Pickles of datetimes in zoneinfo.ZoneInfo zones, with the instant each stands for (Python 3.9+).

stdin:  {"cases": [{"id", "key", "fields": [y, mo, d, h, mi, s, us], "fold": 0|1, "cache": bool}]}
stdout: {"python": "3.11.7", "available": bool, "results": [{"id", "pickles": {protocol: hex},
         "epoch_ms": {protocol: int}, "shared": {protocol: hex},
         "from_instant": {"fields": [...], "fold"}}]}
"epoch_ms" is the instant of what each pickle loads as (below protocol 4 a datetime is written without its
fold), in whole milliseconds since 1970 (floored, exact: no float). "shared" pickles a
list of the datetime and a second one an hour later in the same zone object, so the zone is written once.
"from_instant" is the wall time and fold of the datetime's instant (in whole milliseconds) in its zone.
"available" is false before 3.9 (no zoneinfo) or without time-zone data.
"""
from __future__ import print_function

import json
import pickle
import sys


def instant_ms(dt, utc, epoch):
    import datetime

    return (dt.astimezone(utc) - epoch) // datetime.timedelta(milliseconds=1)


def wall_of(instant, zone):
    """The wall-clock fields and fold of an instant in a zone, as datetime.astimezone gives them."""
    local = instant.astimezone(zone)
    fields = [local.year, local.month, local.day, local.hour, local.minute, local.second, local.microsecond]
    return {'fields': fields, 'fold': local.fold}


def main():
    request = json.load(sys.stdin)
    version = '.'.join(map(str, sys.version_info[:3]))
    try:
        import datetime
        import zoneinfo

        zoneinfo.ZoneInfo('Europe/Berlin')
    except Exception:
        json.dump({'python': version, 'available': False, 'results': []}, sys.stdout)
        return
    utc = datetime.timezone.utc
    epoch = datetime.datetime(1970, 1, 1, tzinfo=utc)
    results = []
    for case in request['cases']:
        zone = zoneinfo.ZoneInfo(case['key']) if case['cache'] else zoneinfo.ZoneInfo.no_cache(case['key'])
        dt = datetime.datetime(*case['fields'], tzinfo=zone, fold=case['fold'])
        later = dt + datetime.timedelta(hours=1)
        protocols = range(pickle.HIGHEST_PROTOCOL + 1)
        pickles = dict((p, pickle.dumps(dt, p)) for p in protocols)
        results.append({
            'id': case['id'],
            'pickles': dict((p, b.hex()) for p, b in pickles.items()),
            'shared': dict((p, pickle.dumps([dt, later], p).hex()) for p in protocols),
            # Of what each pickle loads as: below protocol 4 a datetime is written without its fold.
            'epoch_ms': dict((p, (pickle.loads(b).astimezone(utc) - epoch) // datetime.timedelta(milliseconds=1))
                             for p, b in pickles.items()),
            'from_instant': wall_of(epoch + datetime.timedelta(milliseconds=instant_ms(dt, utc, epoch)), zone),
        })
    json.dump({'python': version, 'available': True, 'results': results}, sys.stdout)


if __name__ == '__main__':
    main()

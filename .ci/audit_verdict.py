"""Reads pip-audit's JSON report (stdin) and decides.

A known vulnerability in a pinned version always fails. A pinned version that the
vulnerability service could not look up fails too, unless --allow-unaudited is given: CI
passes it because its machines reach no vulnerability data, and then it says loudly what
went unchecked instead of reporting "no known vulnerabilities".
"""

import json
import sys


def main() -> int:
    allow_unaudited = "--allow-unaudited" in sys.argv[1:]
    report = json.load(sys.stdin)
    dependencies = report["dependencies"]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    unaudited = [d for d in dependencies if d.get("skip_reason")]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "none yet"
            print(
                f"VULNERABLE {dependency['name']}=={dependency['version']}: {vuln['id']} "
                f"(fixed in {fixes})"
            )
    audited = len(dependencies) - len(unaudited)
    print(
        f"pip-audit: {audited} of {len(dependencies)} pinned packages audited, "
        f"{len(vulnerable)} with known vulnerabilities"
    )
    if vulnerable:
        return 1
    if unaudited:
        print(f"NOT AUDITED ({len(unaudited)}): {unaudited[0]['skip_reason']}")
        if not allow_unaudited:
            return 1
        print("WARNING: the vulnerability service could not be used; these pins are unchecked.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The guide's shell flow with curl: HEAD with ``x-csrf-token: fetch``, POST with the token and a cookie jar,
then poll JobStatusGet with the cookie alone until the job is F.

The guide's script as printed cannot run anywhere (its ``?v=2`` misses the
matrix parameter, its ``sed`` patterns have unescaped slashes, and its
token keeps the header's trailing CR, which HTTP parsers refuse), so
this is its flow with those three bugs fixed and nothing else changed:
same curl options, ``JobSchedule/?…`` with the slash, polling without
credentials.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest
from tenant import Tenant

pytestmark = [
    pytest.mark.backends("sqlite", "postgresql"),
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
]

SCRIPT = r"""
set -eu
enc=$(printf '%s' "$username:$password" | base64 -w0)
encauth="Authorization: Basic $enc"
md_url="$site_url/\$metadata"
es_url="$site_url/JobSchedule/?JobTemplateName='$job_template_name'&JobText='$job_text'&JobUser='$job_user'"
curl -k -c "$cookie_path" -b "$cookie_path" -H 'cache-control: no-cache' -H "x-csrf-token: fetch" \
     -sI "$md_url" -H "$encauth" > "$workdir/header.txt"
token=$(grep -i '^x-csrf-token' "$workdir/header.txt" | cut -f2 -d: | tr -d ' \r')
post_response=$(curl -i -k -s -c "$cookie_path" -b "$cookie_path" -H 'cache-control: no-cache' \
     -X POST --url "$es_url" -H "$encauth" -H "x-csrf-token: $token")
job_name=$(echo "$post_response" | sed 's/.*<d:JobName>//' | sed 's/<\/d:JobName>.*//' | tail -1)
job_run_count=$(echo "$post_response" | sed 's/.*<d:JobRunCount>//' | sed 's/<\/d:JobRunCount>.*//' | tail -1)
stat_f_url="$site_url/JobStatusGet?JobName='$job_name'&JobRunCount='$job_run_count'"
for n in $(seq 1 300); do
    stat_get_response=$(curl -k -s -c "$cookie_path" -b "$cookie_path" --url "$stat_f_url")
    job_stat=$(echo "$stat_get_response" | sed 's/.*<d:JobStatus>//' | sed 's/<\/d:JobStatus>.*//')
    case "$job_stat" in F|A) break ;; esac
    sleep 0.1
done
echo "job=$job_name runcount=$job_run_count status=$job_stat"
"""


def test_guide_shell_flow_with_curl(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "username": tenant.user,
        "password": tenant.password,
        "site_url": tenant.server.url + "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=2",
        "job_template_name": "/APPJOBS/DEMO_CHAIN",
        "job_text": "curl",
        "job_user": "JOBSCHEDULERUSER",
        "cookie_path": str(tmp_path / "cookie.txt"),
        "workdir": str(tmp_path),
    }
    result = subprocess.run(["bash", "-c", SCRIPT], check=False, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    match = re.search(r"job=([0-9A-F]{32}) runcount=(\w{8}) status=(\w)", result.stdout)
    assert match is not None, result.stdout
    assert match.group(3) == "F"
    assert "SAP_SESSIONID_APJ_100" in (tmp_path / "cookie.txt").read_text()

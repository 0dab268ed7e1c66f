#!/bin/sh
# The *sh fake* of docs/performance.md: a low-noise stand-in for the Claude Code CLI (~2 ms per
# spawn). Prints a fixed ~1 KB `--output-format stream-json` run (init event + result envelope).
# If the prompt's first line (stdin, else the argument after -p) contains `sleep=S`, it sleeps
# S seconds first (in a child `sleep` of the same process group, which is what cancel_latency
# watches disappear).
case " $* " in *" --version "*) echo '9.9.9 (bench sh fake)'; exit 0 ;; esac
IFS= read -r line || true
# A server that passes the prompt as `-p PROMPT` with no stdin (the peer of bench/suites/peer.mjs).
if [ -z "$line" ]; then prev=; for a; do [ "$prev" = -p ] && line=$a; prev=$a; done; fi
case "$line" in *sleep=*) s=${line#*sleep=}; sleep "${s%% *}" ;; esac
printf '%s\n%s\n' \
'{"type":"system","subtype":"init","cwd":"/","session_id":"7f1c1c9e-5d0a-4b9e-9a43-bench0000001","model":"claude-bench-1","tools":["Bash","Glob","Grep","Read"],"permissionMode":"dontAsk"}' \
'{"type":"result","subtype":"success","is_error":false,"duration_ms":1234,"duration_api_ms":1200,"num_turns":1,"result":"The bench answer. Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum.","stop_reason":"end_turn","session_id":"7f1c1c9e-5d0a-4b9e-9a43-bench0000001","total_cost_usd":0.0123,"usage":{"input_tokens":100,"output_tokens":20,"cache_creation_input_tokens":0,"cache_read_input_tokens":0},"modelUsage":{"claude-bench-1":{"inputTokens":100,"outputTokens":20,"costUSD":0.0123}},"permission_denials":[],"uuid":"0b6f5f8e-bench-result"}'

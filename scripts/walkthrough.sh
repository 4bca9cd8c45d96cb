#!/usr/bin/env bash
# A repair request's life against `make run`: a resident submits it, the urban bureau handles it, the resident
# follows the timeline and rates it. Every step is a plain curl call; README.md shows the same calls.
set -euo pipefail
BASE=${BASE:-http://127.0.0.1:8000}
json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

# The resident logs in with a wx.login() code (the local fake WeChat accepts dev-<name>).
RESIDENT=$(curl -s -X POST "$BASE/mp/v1/auth/login" -H 'Content-Type: application/json' \
  -d '{"code": "dev-alice"}' | json '["token"]')
SERVICE=$(curl -s "$BASE/mp/v1/services?category=repair" | json '["items"][0]["id"]')

# Submitting needs an Idempotency-Key: a retry on a weak network replays the first answer.
REQUEST=$(curl -s -X POST "$BASE/mp/v1/requests" -H "Authorization: Bearer $RESIDENT" \
  -H 'Content-Type: application/json' -H "Idempotency-Key: $(python3 -c 'import uuid; print(uuid.uuid4())')" \
  -d "{\"service_id\": \"$SERVICE\", \"form\": {\"facility\": \"street_lamp\", \"address\": \"人民路12号\",
       \"description\": \"路灯不亮\"}}" | json '["id"]')
echo "submitted request $REQUEST"

# The urban bureau's handler finds it in the work queue, accepts it, and completes it.
HANDLER=$(curl -s -X POST "$BASE/console/v1/auth/login" -H 'Content-Type: application/json' \
  -d '{"username": "urban-handler", "password": "'"${CIVICDESK_DEMO_PASSWORD:-civicdesk-demo}"'"}' | json '["token"]')
curl -s "$BASE/console/v1/tasks" -H "Authorization: Bearer $HANDLER" | json '["counts"]'
VERSION=$(curl -s -X POST "$BASE/console/v1/requests/$REQUEST/actions" -H "Authorization: Bearer $HANDLER" \
  -H 'Content-Type: application/json' -d '{"action": "accept", "expected_version": 1}' | json '["version"]')
curl -s -X POST "$BASE/console/v1/requests/$REQUEST/actions" -H "Authorization: Bearer $HANDLER" \
  -H 'Content-Type: application/json' \
  -d "{\"action\": \"complete\", \"comment\": \"已更换灯泡\", \"expected_version\": $VERSION}" | json '["status"]'

# The resident reads where it stands (in their words) and its public timeline, then rates it.
curl -s "$BASE/mp/v1/requests/$REQUEST" -H "Authorization: Bearer $RESIDENT" | json '["current_step_name"]'
curl -s "$BASE/mp/v1/requests/$REQUEST" -H "Authorization: Bearer $RESIDENT" | json '["timeline"]'
curl -s -X POST "$BASE/mp/v1/requests/$REQUEST/rating" -H "Authorization: Bearer $RESIDENT" \
  -H 'Content-Type: application/json' -d '{"level": 5, "comment": "很快就修好了"}' | json '["level"]'

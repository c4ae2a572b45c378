#!/bin/bash
# LocalStack READY hook (runs on every start, LocalStack keeps no state): the
# file service's bucket, with the CORS rule that lets the browser app on
# http://localhost:3000 PUT and GET objects through presigned URLs.
set -euo pipefail

bucket=files

if ! awslocal s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
  awslocal s3api create-bucket --bucket "$bucket" >/dev/null
fi

awslocal s3api put-bucket-cors --bucket "$bucket" --cors-configuration '{
  "CORSRules": [
    {
      "AllowedOrigins": ["http://localhost:3000"],
      "AllowedMethods": ["PUT", "GET"],
      "AllowedHeaders": ["*"],
      "ExposeHeaders": ["ETag"],
      "MaxAgeSeconds": 3000
    }
  ]
}'

echo "init-s3: bucket '$bucket' ready, CORS for http://localhost:3000"

"""The reactive scaler of the input stream: one decision function (policy.py) that the capacity simulator
evaluates minute by minute and the deployed Lambda (handler.py, infra/scaler.yaml) runs on live metrics.

Standard library only (plus boto3, which the Lambda runtime provides), so it is zipped on its own."""

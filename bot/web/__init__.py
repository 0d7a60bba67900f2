"""The desk: `crieur serve`, a local web application to review, approve, edit and steer the queue."""

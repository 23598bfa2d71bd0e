#!/bin/sh
# What testdata/falco_fields.jsonl recorded (TestFieldsAsFalco): harmless
# triggers, run as root while
#   peregrine agent -r falco_rules.yaml -r falco-incubating_rules.yaml --record all.jsonl
# ran; the capture keeps this script's execs and its processes' reads of
# /etc/shadow and events (grep pg-trigger, then those lines only).
cd /tmp
sleep 1
cat /etc/../etc/../etc/shadow > /dev/null
/usr/bin/sh -c 'cat /etc/shadow > /dev/null; sleep 0.5'
cp /usr/bin/true /dev/shm/pg-trigger-true
/dev/shm/pg-trigger-true
rm -f /dev/shm/pg-trigger-true
sleep 1

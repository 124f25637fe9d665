# Round-trip cost of a port write and a port read to the UART scratch register, as
# benchmark rows on stdout.
time 20000 "guest pio write round trip" "< 10 us" { out 0x3ff, 1, 0x55 }
time 20000 "guest pio read round trip"  "< 10 us" { in 0x3ff, 1 }

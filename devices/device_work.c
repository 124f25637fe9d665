/*
 * devices/device_work.c — the queue of work devices defer to a later loop turn.
 *
 * A singly linked FIFO of DeviceWork items embedded in device state: scheduling and
 * running allocate nothing. device_work_run() detaches the whole queue before running
 * it, so an item that schedules itself again (a queue with more requests than its
 * budget) lands on the next turn, after the loop has served everything else that is
 * ready. Cancel is linear, which is fine for the handful of items a machine has, and
 * also reaches the rest of a batch being run (a device destroyed by an earlier item of
 * the batch must not have its work run).
 */
#include "devices/device.h"

#include <stddef.h>

static void reset_queue(DeviceWorkQueue *q)
{
    q->head = NULL;
    q->tail = &q->head;
}

void device_work_queue_init(DeviceWorkQueue *q)
{
    reset_queue(q);
    q->running = NULL;
}

void device_work_schedule(DeviceWorkQueue *q, DeviceWork *work)
{
    if (work->queued)
        return;
    work->queued = true;
    work->next = NULL;
    *q->tail = work;
    q->tail = &work->next;
}

void device_work_cancel(DeviceWorkQueue *q, DeviceWork *work)
{
    if (!work->queued)
        return;
    work->queued = false;
    for (DeviceWork **link = &q->running; *link; link = &(*link)->next) {
        if (*link == work) {
            *link = work->next;
            return;
        }
    }
    for (DeviceWork **link = &q->head; *link; link = &(*link)->next) {
        if (*link == work) {
            *link = work->next;
            if (q->tail == &work->next)
                q->tail = link;
            return;
        }
    }
}

bool device_work_pending(const DeviceWorkQueue *q)
{
    return q->head != NULL;
}

unsigned device_work_run(DeviceWorkQueue *q)
{
    q->running = q->head;
    reset_queue(q);
    unsigned ran = 0;
    while (q->running) {
        DeviceWork *work = q->running;
        q->running = work->next;
        work->queued = false;
        work->run(work);
        ran++;
    }
    return ran;
}

void device_loop_schedule(const DeviceLoop *loop, DeviceWork *work)
{
    if (loop && loop->work)
        device_work_schedule(loop->work, work);
    else
        work->run(work);
}

void device_loop_cancel(const DeviceLoop *loop, DeviceWork *work)
{
    if (loop && loop->work)
        device_work_cancel(loop->work, work);
}
